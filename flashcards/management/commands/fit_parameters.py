from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize
from django.utils import timezone

from flashcards.models import Deck
from flashcards.personal import fit_learner
from flashcards.pooled import decks_to_fit, fit_deck
from flashcards.tasks import queue_fit, queue_pooled_fit


class Command(BaseCommand):
    help = (
        "Fit FSRS-6 parameters to learners' histories, adopting them only where they predict "
        "the learner's later answers better. Nightly from cron: --all queues a fit of every "
        "learner with answers, --pooled a fit of every curated deck's pooled parameters (to all "
        "its learners' answers, adopted only where they beat FSRS's defaults), both for the "
        "workers (manage.py db_worker); --user fits one learner now, --deck one curated deck."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="Queue every learner with answers.")
        which.add_argument(
            "--pooled", action="store_true", help="Queue every curated deck with answers."
        )
        which.add_argument("--user", help="Fit one learner, by username, now.")
        which.add_argument("--deck", help="Fit one curated deck's pooled parameters, by slug, now.")
        which.add_argument(
            "--queued",
            action="store_true",
            help="Does nothing: fits asked for are queued for the workers at once.",
        )

    def handle(self, *args, all, pooled, user, deck, queued, **options):
        User = get_user_model()
        if queued:
            self.stdout.write(
                "Nothing to do: a fit asked for is queued at once and run by "
                "`manage.py db_worker`; this option can be removed from cron."
            )
        elif user:
            try:
                learner = User.objects.get(username=user)
            except User.DoesNotExist as error:
                raise CommandError(f"No learner named {user}.") from error
            profile = fit_learner(learner, timezone.now())
            self.stdout.write(
                f"{learner.username}: {profile.get_fit_status_display()}. {profile.fit_message}"
            )
        elif deck:
            try:
                curated = Deck.objects.get(slug=deck, owner=None)
            except Deck.DoesNotExist as error:
                raise CommandError(f"No curated deck with the slug {deck}.") from error
            figures = fit_deck(curated, timezone.now()).pooled_evaluation
            self.stdout.write(f"{curated.slug}: {figures['status']}. {figures['reason']}")
        elif pooled:
            queued_now, waiting = queue_each(decks_to_fit(), queue_pooled_fit)
            self.stdout.write(
                f"Queued {queued_now} fit{pluralize(queued_now)} of a curated deck's pooled "
                f"parameters for the workers ({waiting} already waiting)."
            )
        else:
            learners = User.objects.filter(review__isnull=False).distinct()
            queued_now, waiting = queue_each(learners, queue_fit)
            self.stdout.write(
                f"Queued {queued_now} fit{pluralize(queued_now)} for the workers "
                f"({waiting} already waiting)."
            )


def queue_each(rows, queue):
    """Queue a fit of each row; (how many were queued now, how many were already waiting)."""
    queued = waiting = 0
    for row in rows.iterator():
        if queue(row):
            queued += 1
        else:
            waiting += 1
    return queued, waiting
