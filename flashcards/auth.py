from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from flashcards import statements


class ProfileBackend(ModelBackend):
    """Loads the learner's study settings with the learner: one query a request, not two."""

    def get_user(self, user_id):
        found = statements.user_with_profile(user_id)
        if found is None:
            return None
        user, profile = found
        # As select_related("profile") would: a learner without settings reads as such.
        get_user_model().profile.related.set_cached_value(user, profile)
        return user if self.user_can_authenticate(user) else None
