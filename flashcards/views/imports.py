"""Importing a file into a deck: upload, preview, then write."""

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from flashcards import import_jobs, imports
from flashcards.forms import ImportForm
from flashcards.models import Deck, PendingImport

PREVIEW_ROWS = 10


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
        try:
            if upload.size > imports.MAX_IMPORT_BYTES:
                raise imports.ImportRefused(
                    f"The file is {upload.size / 1048576:.1f} MB; imports are limited to "
                    f"{imports.MAX_IMPORT_BYTES // 1048576} MB."
                )
            data = upload.read()
            imports.parse_file(upload.name, data)
        except imports.ImportRefused as refusal:
            form.add_error("file", str(refusal))
        else:
            pending = PendingImport.objects.create(
                user=request.user,
                deck=deck,
                filename=upload.name[:255],
                data=data,
                include_history=form.cleaned_data["include_history"],
            )
            title = form.cleaned_data["title"]
            url = reverse("flashcards:import_preview", args=[pending.pk])
            return redirect(f"{url}?title={quote(title)}" if title else url)
    status = 400 if form.errors else 200
    return render(request, "flashcards/import.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def import_preview(request, pending_id):
    pending = get_object_or_404(PendingImport, pk=pending_id, user=request.user)
    if pending.deck is not None and not pending.deck.editable_by(request.user):
        pending.delete()
        return redirect("flashcards:import_upload")
    parsed = imports.parse_file(pending.filename, bytes(pending.data))
    title = request.POST.get("title") or request.GET.get("title") or ""
    if request.method == "POST":
        if "cancel" in request.POST:
            pending.delete()
            messages.info(request, "Import cancelled; nothing was changed.")
            return redirect("flashcards:deck_list")
        history_user = request.user if pending.include_history else None
        with transaction.atomic():
            # Staff import into curated decks; a learner's new deck is their own.
            owner = None if request.user.is_staff else request.user
            deck, plan = import_jobs.apply_import(
                parsed, deck=pending.deck, owner=owner, title=title, history_user=history_user
            )
            pending.delete()
        messages.success(
            request,
            f"Imported {plan.created} new and {plan.updated} updated card"
            f"{'s' if plan.created + plan.updated != 1 else ''}"
            f"{f', and {plan.answers} answers of your history' if plan.answers else ''}.",
        )
        return redirect("flashcards:deck_detail", slug=deck.slug)
    context = {
        "pending": pending,
        "parsed": parsed,
        "plan": import_jobs.plan_import(
            pending.deck, parsed, request.user if pending.include_history else None
        ),
        "rows": parsed.cards[:PREVIEW_ROWS],
        "title": title or parsed.title or "",
        "format": imports.FORMATS[parsed.format],
    }
    return render(request, "flashcards/import_preview.html", context)
