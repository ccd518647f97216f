"""The built-in note types, as Anki has them: which cards a note makes, and each card's sides.

A note is what an author writes: two fields and a type. Its cards are what learners study, each
numbered by its ordinal within the note (Anki's `ord` + 1: the template, or the cloze number):
- Basic: front → back;
- Basic and reversed card: front → back, and back → front;
- Basic (optional reversed card): the reverse only when the note asks for it;
- Cloze: one card per cloze number in the text; the second field ("Extra") under the answer;
- Basic (type in the answer): front → back, the learner types the answer before revealing it.
"""

from dataclasses import dataclass

from flashcards import cloze, rendering

BASIC = "basic"
REVERSED = "reversed"
OPTIONAL_REVERSED = "optional_reversed"
CLOZE = "cloze"
TYPE_IN = "type_in"
NOTE_TYPES = [
    (BASIC, "Basic"),
    (REVERSED, "Basic and reversed card"),
    (OPTIONAL_REVERSED, "Basic (optional reversed card)"),
    (CLOZE, "Cloze"),
    (TYPE_IN, "Basic (type in the answer)"),
]
# The names of the two fields, as the editor labels them.
FIELD_LABELS = {
    note_type: ("Text", "Extra") if note_type == CLOZE else ("Front", "Back")
    for note_type, _ in NOTE_TYPES
}


class NoteRefused(ValueError):
    """A note that makes no card, or whose text could not be rendered at a bounded cost."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CardSides:
    """One card a note makes: its ordinal, each side as Markdown (for lists, search and exports)
    and as sanitised HTML (for study), and whether the learner types the answer."""

    ordinal: int
    front: str
    back: str
    front_html: str
    back_html: str
    typed: bool = False


def check_note(note_type: str, front: str, back: str) -> None:
    """Refuse, naming the field, a note whose text is beyond the renderer's limits, malformed
    cloze, or a note that makes no card."""
    first, second = FIELD_LABELS[note_type]
    for field, text, label in (("front", front, first), ("back", back, second)):
        try:
            rendering.check_markdown(text, f"The {label.lower()}")
        except rendering.MarkdownRefused as refusal:
            raise NoteRefused(field, str(refusal)) from refusal
    if note_type == CLOZE:
        try:
            cloze.check_cloze(front, f"The {first.lower()}")
        except cloze.ClozeError as refusal:
            raise NoteRefused("front", str(refusal)) from refusal
    elif not front.strip():
        raise NoteRefused("front", f"The {first.lower()} is empty: the note would make no card.")
    elif note_type == REVERSED and not back.strip():
        raise NoteRefused("back", "The back is empty: its reversed card would show nothing.")


def cards_of(note_type: str, front: str, back: str, add_reverse: bool = False) -> list[CardSides]:
    """The cards a note of this type and fields makes, by ordinal."""
    if note_type == CLOZE:
        extra = f'\n<div class="cloze-extra">{rendering.render_markdown(back)}</div>'
        return [
            CardSides(
                number,
                cloze.plain_question(front, number),
                cloze.plain_text(front) + (f"\n\n{back}" if back.strip() else ""),
                cloze.question(front, number),
                cloze.answer(front, number) + (extra if back.strip() else ""),
            )
            for number in cloze.cloze_numbers(front)
        ]
    front_html, back_html = rendering.render_markdown(front), rendering.render_markdown(back)
    cards = [CardSides(1, front, back, front_html, back_html, typed=note_type == TYPE_IN)]
    if note_type == REVERSED or (note_type == OPTIONAL_REVERSED and add_reverse):
        cards.append(CardSides(2, back, front, back_html, front_html))
    return cards
