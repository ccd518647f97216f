from django.contrib import admin
from django.urls import include, path

from flashcards import views

flashcards_patterns = [
    path("", views.deck_list, name="deck_list"),
    path("decks/<slug:slug>/study/", views.study, name="study"),
    path("decks/<slug:slug>/study/<int:card_id>/reveal/", views.reveal, name="reveal"),
    path("decks/<slug:slug>/study/answer/", views.answer, name="answer"),
    path("decks/<slug:slug>/study/undo/", views.undo, name="undo"),
    path("progress/", views.progress, name="progress"),
    path("progress/<slug:slug>/", views.progress, name="deck_progress"),
    path("progress/export/<str:fmt>/", views.export_history, name="export_history"),
    path("cards/<int:card_id>/history/", views.card_history, name="card_history"),
    path("insight/", views.insight, name="insight"),
    path("insight/<slug:slug>/", views.deck_insight, name="deck_insight"),
    path("settings/", views.study_settings, name="settings"),
    path("accounts/signup/", views.signup, name="signup"),
]

urlpatterns = [
    path("", include((flashcards_patterns, "flashcards"))),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
