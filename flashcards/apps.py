from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.core import checks


def remember_theme(sender, request, user, **kwargs):
    """The learner's colour theme follows them to every browser they log in from."""
    from flashcards.models import Profile

    theme = Profile.objects.filter(user=user).values_list("theme", flat=True).first()
    request.session["theme"] = theme or "auto"


class FlashcardsConfig(AppConfig):
    name = "flashcards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        user_logged_in.connect(remember_theme, dispatch_uid="flashcards.remember_theme")
        from flashcards.checks import services_reachable

        checks.register(services_reachable, deploy=True)
