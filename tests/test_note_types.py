"""Which cards each built-in note type makes, and what it refuses."""

import pytest

from flashcards import note_types
from flashcards.note_types import (
    BASIC,
    CLOZE,
    OPTIONAL_REVERSED,
    REVERSED,
    TYPE_IN,
    NoteRefused,
    cards_of,
    check_note,
)


def test_a_basic_note_makes_one_card_from_front_to_back():
    (card,) = cards_of(BASIC, "What is **ReLU**?", "max(0, x)")
    assert (card.ordinal, card.front, card.back, card.typed) == (
        1,
        "What is **ReLU**?",
        "max(0, x)",
        False,
    )
    assert card.front_html == "<p>What is <strong>ReLU</strong>?</p>\n"


def test_a_reversed_note_makes_a_second_card_from_back_to_front():
    forward, backward = cards_of(REVERSED, "chat", "cat")
    assert (forward.ordinal, forward.front, forward.back) == (1, "chat", "cat")
    assert (backward.ordinal, backward.front, backward.back) == (2, "cat", "chat")
    assert backward.front_html == forward.back_html


@pytest.mark.parametrize(("add_reverse", "ordinals"), [(False, [1]), (True, [1, 2])])
def test_an_optional_reversed_note_makes_the_reverse_only_when_asked(add_reverse, ordinals):
    cards = cards_of(OPTIONAL_REVERSED, "chat", "cat", add_reverse=add_reverse)
    assert [card.ordinal for card in cards] == ordinals


def test_the_reverse_is_asked_for_only_by_the_optional_reversed_type():
    assert len(cards_of(BASIC, "chat", "cat", add_reverse=True)) == 1
    assert len(cards_of(TYPE_IN, "chat", "cat", add_reverse=True)) == 1


def test_a_cloze_note_makes_one_card_per_number_with_the_extra_under_the_answer():
    text = "{{c1::Paris}} is the capital of {{c2::France::country}}; {{c1::Berlin}} of Germany."
    first, second = cards_of(CLOZE, text, "Both since the *19th* century.")
    assert [first.ordinal, second.ordinal] == [1, 2]
    assert "Paris" not in first.front_html and "Berlin" not in first.front_html
    assert "France" in first.front_html
    assert '<span class="cloze">[country]</span>' in second.front_html
    assert '<span class="cloze">Paris</span>' in first.back_html
    assert "<em>19th</em>" in first.back_html and "cloze-extra" in first.back_html
    assert "{{" not in first.front + first.back
    assert first.front == "[...] is the capital of France; [...] of Germany."


def test_a_cloze_note_without_extra_shows_no_extra_block():
    (card,) = cards_of(CLOZE, "{{c1::a}} b", "  ")
    assert "cloze-extra" not in card.back_html


def test_a_type_in_note_makes_one_card_whose_answer_is_typed():
    (card,) = cards_of(TYPE_IN, "Capital of France?", "Paris")
    assert card.typed and card.back == "Paris"


@pytest.mark.parametrize(
    ("note_type", "front", "back", "field", "words"),
    [
        (BASIC, "", "b", "front", "would make no card"),
        (BASIC, "   ", "b", "front", "would make no card"),
        (REVERSED, "a", "", "back", "reversed card"),
        (CLOZE, "no deletion here", "", "front", "makes no card"),
        (CLOZE, "{{c1::never closed", "", "front", "never closes"),
        (CLOZE, "{{c0::zero}}", "", "front", "c0"),
        (CLOZE, "{{c1::}}", "", "front", "hides nothing"),
        (CLOZE, "{{c1::a {{c2::b}} }}", "", "front", "inside"),
        (BASIC, "a", "x" * 10_001, "back", "10,000"),
    ],
)
def test_a_note_that_makes_no_card_or_is_malformed_is_refused_naming_the_field(
    note_type, front, back, field, words
):
    with pytest.raises(NoteRefused) as refused:
        check_note(note_type, front, back)
    assert refused.value.field == field
    assert words in str(refused.value)


def test_every_note_type_has_a_label_and_field_names():
    assert [name for name, _ in note_types.NOTE_TYPES] == list(note_types.FIELD_LABELS)
    assert note_types.FIELD_LABELS[CLOZE] == ("Text", "Extra")
