from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from flashcards.models import Profile
from flashcards.personal import fit_learner


class Command(BaseCommand):
    help = (
        "Fit FSRS-6 parameters to learners' histories, adopting them only where they predict "
        "the learner's later answers better. Run it from cron or a job runner, e.g. every few "
        "minutes with --queued (re-fits learners asked for) and nightly with --all."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--queued", action="store_true", help="Learners who asked for a fit.")
        which.add_argument("--all", action="store_true", help="Every learner with answers.")
        which.add_argument("--user", help="One learner, by username.")

    def handle(self, *args, queued, all, user, **options):
        User = get_user_model()
        if user:
            try:
                users = [User.objects.get(username=user)]
            except User.DoesNotExist as error:
                raise CommandError(f"No learner named {user}.") from error
        elif queued:
            ids = Profile.objects.filter(fit_status="queued").values_list("user_id", flat=True)
            users = User.objects.filter(pk__in=list(ids))
        else:
            users = User.objects.filter(review__isnull=False).distinct()
        for learner in users:
            profile = fit_learner(learner, timezone.now())
            self.stdout.write(
                f"{learner.username}: {profile.get_fit_status_display()}. {profile.fit_message}"
            )
