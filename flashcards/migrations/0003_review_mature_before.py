from datetime import timedelta

from django.conf import settings
from django.db import migrations, models

REVIEW = 2  # scheduling.REVIEW
MATURE_INTERVAL = timedelta(days=21)  # scheduling.MATURE_INTERVAL


def mark_mature_answers(apps, schema_editor):
    """Mark the earlier answers on mature cards, as Review.from_answer now records them."""
    Review = apps.get_model("flashcards", "Review")
    interval = models.F("due_before") - models.F("last_review_before")
    Review.objects.filter(state_before=REVIEW).alias(interval=interval).filter(
        interval__gte=MATURE_INTERVAL
    ).update(mature_before=True)


class Migration(migrations.Migration):
    dependencies = [
        ("flashcards", "0002_card_rendered_html"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="review",
            name="flashcards__user_id_1595da_idx",
        ),
        migrations.AddField(
            model_name="review",
            name="mature_before",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(mark_mature_answers, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="review",
            index=models.Index(
                fields=[
                    "user",
                    "study_day",
                    "deck",
                    "rating",
                    "duration_ms",
                    "state_before",
                    "first_of_day",
                    "mature_before",
                ],
                name="flashcards__user_id_bece17_idx",
            ),
        ),
    ]
