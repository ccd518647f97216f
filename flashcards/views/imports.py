"""Importing a file into a deck: upload, preview once read, then write; both steps are jobs
(flashcards.import_jobs), and the import's page follows them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from flashcards import import_jobs, imports
from flashcards.forms import ImportForm
from flashcards.models import Deck, PendingImport

# What the learner may still cancel: nothing is written before confirming.
CANCELLABLE = ("reading", "ready", "refused", "failed")


def _import_targets(user):
    decks = Deck.objects.listed_for(user)
    return [deck for deck in decks.order_by("title") if deck.editable_by(user)]


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request):
    targets = _import_targets(request.user)
    initial = {"deck": request.GET.get("deck", "")}
    form = ImportForm(request.POST or None, request.FILES or None, decks=targets, initial=initial)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        deck = next((d for d in targets if d.slug == form.cleaned_data["deck"]), None)
        refusal = imports.size_refusal(upload.size) or import_jobs.upload_refusal(
            request.user, upload.size
        )
        if refusal:
            form.add_error("file", refusal)
        else:
            pending = PendingImport.objects.create(
                user=request.user,
                deck=deck,
                filename=upload.name[:255],
                data=upload.read(),
                size=upload.size,
                include_history=form.cleaned_data["include_history"],
                title=form.cleaned_data["title"][:200],
            )
            import_jobs.read_upload.enqueue(pending.pk)
            return redirect("flashcards:import_preview", pending.pk)
    status = 400 if form.errors else 200
    waiting = PendingImport.objects.filter(user=request.user).exclude(status="done")
    context = {
        "form": form,
        "waiting": waiting.order_by("created_at"),
        "max_waiting": import_jobs.MAX_WAITING_UPLOADS,
        "max_waiting_mb": import_jobs.MAX_WAITING_BYTES // 1048576,
    }
    return render(request, "flashcards/import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def import_preview(request, pending_id):
    """An import's page: reading, the preview and its confirmation, writing, or what went
    wrong; an HTMX request gets the part that follows the jobs."""
    pending = get_object_or_404(PendingImport, pk=pending_id, user=request.user)
    if (
        pending.status in CANCELLABLE
        and pending.deck
        and not pending.deck.editable_by(request.user)
    ):
        pending.delete()
        return redirect("flashcards:import_upload")
    url = reverse("flashcards:import_preview", args=[pending.pk])
    if pending.status == "done":
        messages.success(request, pending.message)
        deck_url = reverse("flashcards:deck_list")
        if pending.result is not None:
            deck_url = reverse("flashcards:deck_detail", args=[pending.result.slug])
        return HttpResponseClientRedirect(deck_url) if request.htmx else redirect(deck_url)
    if request.method == "POST":
        if "cancel" in request.POST:
            if pending.status not in CANCELLABLE:
                messages.error(request, "The import is being written: it cannot be cancelled.")
                return redirect(url)
            pending.delete()
            messages.info(request, "Import cancelled; nothing was changed.")
            return redirect("flashcards:deck_list")
        title = request.POST.get("title", "")[:200]
        confirmed = PendingImport.objects.filter(pk=pending.pk, status="ready").update(
            status="writing", title=title, updated_at=timezone.now()
        )
        if confirmed:
            import_jobs.write_upload.enqueue(pending.pk)
        return redirect(url)
    summary = pending.summary
    context = {
        "pending": pending,
        "summary": summary,
        "format": imports.FORMATS.get(summary.get("format"), ""),
        "title": pending.title or summary.get("title", ""),
        "polling": pending.status in ("reading", "writing"),
    }
    template = "flashcards/import_preview.html"
    return render(request, f"{template}#status" if request.htmx else template, context)
