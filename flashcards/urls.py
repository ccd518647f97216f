from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from flashcards import throttle
from flashcards.forms import ThrottledAuthenticationForm
from flashcards.views import accounts, decks, imports, insight, progress, study

flashcards_patterns = [
    path("", decks.deck_list, name="deck_list"),
    path("decks/new/", decks.deck_create, name="deck_create"),
    path("decks/<slug:slug>/", decks.deck_detail, name="deck_detail"),
    path("decks/<slug:slug>/edit/", decks.deck_edit, name="deck_edit"),
    path("decks/<slug:slug>/delete/", decks.deck_delete, name="deck_delete"),
    path("decks/<slug:slug>/cards/new/", decks.card_create, name="card_create"),
    path("decks/<slug:slug>/export/<str:fmt>/", decks.deck_export, name="deck_export"),
    path("cards/<int:card_id>/", decks.card_row, name="card_row"),
    path("cards/<int:card_id>/edit/", decks.card_edit, name="card_edit"),
    path("cards/<int:card_id>/delete/", decks.card_delete, name="card_delete"),
    path("cards/<int:card_id>/move/<direction>/", decks.card_move, name="card_move"),
    path("markdown/preview/", decks.markdown_preview, name="markdown_preview"),
    path("import/", imports.import_upload, name="import_upload"),
    path("import/<int:pending_id>/", imports.import_preview, name="import_preview"),
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
    path("settings/fit/", accounts.request_fit, name="request_fit"),
    path("theme/", accounts.switch_theme, name="switch_theme"),
    path("accounts/signup/", accounts.signup, name="signup"),
]

urlpatterns = [
    path("", include((flashcards_patterns, "flashcards"))),
    path(
        "accounts/login/",
        throttle.remembering_device(
            LoginView.as_view(authentication_form=ThrottledAuthenticationForm)
        ),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
