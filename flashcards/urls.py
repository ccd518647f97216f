from django.contrib import admin
from django.urls import include, path

from flashcards.views import accounts, insight, progress, study

flashcards_patterns = [
    path("", study.deck_list, name="deck_list"),
    path("decks/<slug:slug>/study/", study.study, name="study"),
    path("decks/<slug:slug>/study/<int:card_id>/reveal/", study.reveal, name="reveal"),
    path("decks/<slug:slug>/study/answer/", study.answer, name="answer"),
    path("decks/<slug:slug>/study/undo/", study.undo, name="undo"),
    path("progress/", progress.progress, name="progress"),
    path("progress/<slug:slug>/", progress.progress, name="deck_progress"),
    path("progress/export/<str:fmt>/", progress.export_history, name="export_history"),
    path("cards/<int:card_id>/history/", progress.card_history, name="card_history"),
    path("insight/", insight.insight, name="insight"),
    path("insight/<slug:slug>/", insight.deck_insight, name="deck_insight"),
    path("settings/", accounts.study_settings, name="settings"),
    path("accounts/signup/", accounts.signup, name="signup"),
]

urlpatterns = [
    path("", include((flashcards_patterns, "flashcards"))),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
