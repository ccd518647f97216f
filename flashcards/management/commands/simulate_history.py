from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from flashcards.models import Card, Deck, Memory, Review, profile_for
from flashcards.simulation import simulate


class Command(BaseCommand):
    help = "Give a learner (created if needed) a simulated history of study, for demos."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="Set this password (new users only).")
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--answers", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, username, password, days, answers, seed, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password) if password else user.set_unusable_password()
            user.save()
        if Review.objects.filter(user=user).exists() or Memory.objects.filter(user=user).exists():
            raise CommandError(f"{username} already has a history; it is left as it is.")
        cards = Card.objects.filter(deck__in=Deck.objects.listed_for(user)).order_by(
            "deck", "position", "id"
        )
        written = simulate(
            user,
            cards,
            profile_for(user),
            end=timezone.now(),
            days=days,
            answers=answers,
            seed=seed,
        )
        self.stdout.write(f"Wrote {written} answers over {days} days for {username}.")
