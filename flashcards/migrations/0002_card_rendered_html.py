from django.db import migrations, models

from flashcards.rendering import render_markdown


def render_cards(apps, schema_editor):
    Card = apps.get_model("flashcards", "Card")
    cards = list(Card.objects.only("front", "back"))
    for card in cards:
        card.front_html = render_markdown(card.front)
        card.back_html = render_markdown(card.back)
    Card.objects.bulk_update(cards, ["front_html", "back_html"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("flashcards", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="card",
            name="front_html",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="card",
            name="back_html",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(render_cards, migrations.RunPython.noop),
    ]
