"""Cloze deletions are read and rendered by a pure module: these tests need no database."""

import contextlib
import time
from html.parser import HTMLParser

import pytest

from flashcards.cloze import (
    MAX_CLOZE_NUMBER,
    MAX_DELETIONS,
    ClozeError,
    answer,
    check_cloze,
    cloze_numbers,
    plain_question,
    plain_text,
    question,
)
from flashcards.rendering import render_markdown

HIDDEN = '<span class="cloze">[...]</span>'

VOID_TAGS = {"br", "hr", "img"}


class _Nesting(HTMLParser):
    def __init__(self):
        super().__init__()
        self.open, self.crossed = [], False

    def handle_starttag(self, tag, attrs):
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.crossed = True


def well_formed(html):
    """Whether every tag of the HTML closes in the order it opened."""
    nesting = _Nesting()
    nesting.feed(html)
    nesting.close()
    return not nesting.crossed and not nesting.open


def test_a_deletion_is_hidden_on_its_cards_front_and_highlighted_on_its_back():
    text = "The {{c1::mitochondrion}} makes energy."

    assert question(text, 1) == f"<p>The {HIDDEN} makes energy.</p>\n"
    assert answer(text, 1) == '<p>The <span class="cloze">mitochondrion</span> makes energy.</p>\n'


def test_a_hint_shows_in_brackets_in_place_of_the_dots():
    text = "The {{c1::mitochondrion::organelle}} makes energy."

    assert '<span class="cloze">[organelle]</span>' in question(text, 1)
    assert "mitochondrion" not in question(text, 1)
    assert '<span class="cloze">mitochondrion</span>' in answer(text, 1)
    assert "organelle" not in answer(text, 1)


def test_an_empty_or_blank_hint_is_no_hint():
    assert HIDDEN in question("{{c1::a::}}", 1)
    assert HIDDEN in question("{{c1::a::  }}", 1)


def test_the_first_double_colon_starts_the_hint_which_keeps_the_rest_as_anki_does():
    text = "{{c1::a::b::c}} and {{c2::std::vector}}"

    assert '<span class="cloze">[b::c]</span>' in question(text, 1)
    assert '<span class="cloze">a</span>' in answer(text, 1)
    assert '<span class="cloze">[vector]</span>' in question(text, 2)
    assert plain_text(text) == "a and std"


def test_deletions_sharing_a_number_are_hidden_together_on_its_card():
    text = "{{c1::Paris}} is the capital of {{c1::France}}, on the {{c2::Seine}}."

    assert cloze_numbers(text) == [1, 2]
    assert question(text, 1) == f"<p>{HIDDEN} is the capital of {HIDDEN}, on the Seine.</p>\n"
    assert answer(text, 1) == (
        '<p><span class="cloze">Paris</span> is the capital of '
        '<span class="cloze">France</span>, on the Seine.</p>\n'
    )


def test_each_number_makes_a_card_that_shows_the_other_numbers_answers_plainly():
    text = "{{c1::Paris}} is the capital of {{c2::France}}, on the {{c3::Seine}}."

    assert cloze_numbers(text) == [1, 2, 3]
    assert question(text, 2) == f"<p>Paris is the capital of {HIDDEN}, on the Seine.</p>\n"
    assert answer(text, 3) == (
        '<p>Paris is the capital of France, on the <span class="cloze">Seine</span>.</p>\n'
    )


def test_cloze_numbers_are_sorted_and_distinct():
    assert cloze_numbers("{{c3::a}} {{c1::b}} {{c3::c}} {{c2::d}} {{c1::e}}") == [1, 2, 3]
    assert cloze_numbers("no deletion") == []


def test_numbers_need_not_start_at_one_or_follow_each_other():
    text = "{{c3::a}} and {{c7::b}}"

    assert cloze_numbers(text) == [3, 7]
    check_cloze(text, "The text")
    assert question(text, 7) == f"<p>a and {HIDDEN}</p>\n"


def test_leading_zeros_of_a_number_do_not_count():
    text = "{{c01::a}} and {{c1::b}}"

    assert cloze_numbers(text) == [1]
    assert question(text, 1) == f"<p>{HIDDEN} and {HIDDEN}</p>\n"


def test_a_card_for_a_number_the_text_lacks_is_refused():
    with pytest.raises(ClozeError, match="no deletion numbered 2"):
        question("{{c1::a}}", 2)
    with pytest.raises(ClozeError, match="no deletion numbered 2"):
        plain_question("{{c1::a}}", 2)


def test_only_an_opener_written_exactly_starts_a_deletion():
    text = "{{C1::a}} {{ c1::b}} {{c1:c}} {{c::d}} {{c2::e}}"

    assert cloze_numbers(text) == [2]
    assert answer(text, 2) == (
        '<p>{{C1::a}} {{ c1::b}} {{c1:c}} {{c::d}} <span class="cloze">e</span></p>\n'
    )


def test_the_first_closing_braces_end_a_deletion_and_others_are_text():
    text = "}} {{c1::{a}}}"

    assert answer(text, 1) == '<p>}} <span class="cloze">{a</span>}</p>\n'


def test_spaces_inside_a_deletion_are_kept_as_written():
    assert plain_text("x{{c1:: a }}y") == "x a y"
    assert plain_question("x{{c1:: a :: b }}y", 1) == "x[ b ]y"


def test_the_plain_question_and_text_have_no_cloze_syntax_left():
    text = "**{{c1::Paris}}** is in {{c2::France::a country}}."

    assert plain_question(text, 1) == "**[...]** is in France."
    assert plain_question(text, 2) == "**Paris** is in [a country]."
    assert plain_text(text) == "**Paris** is in France."


def test_math_inside_a_deletion_is_mathml_on_the_back_and_absent_from_the_front():
    text = "Einstein: {{c1::$E=mc^2$}}, by {{c2::Einstein}}."

    front, back = question(text, 1), answer(text, 1)

    assert front == f"<p>Einstein: {HIDDEN}, by Einstein.</p>\n"
    assert '<span class="cloze"><span class="math inline"><math display="inline">' in back
    assert "<msup><mi>c</mi><mn>2</mn></msup>" in back
    assert "<math" in question(text, 2)


def test_code_inside_a_deletion_is_a_code_span_on_the_back_and_absent_from_the_front():
    text = "Increment: {{c2::`x + 1`}}."

    assert question(text, 2) == f"<p>Increment: {HIDDEN}.</p>\n"
    assert answer(text, 2) == '<p>Increment: <span class="cloze"><code>x + 1</code></span>.</p>\n'


def test_a_deletion_inside_code_is_hidden_within_it():
    text = "`a {{c1::b}} c`\n\n```\n{{c1::secret}}\n```"

    front = question(text, 1)

    assert f"<code>a {HIDDEN} c</code>" in front
    assert f'<pre tabindex="0"><code>{HIDDEN}\n</code></pre>' in front
    assert "secret" not in front


def test_a_deletion_inside_emphasis_a_list_item_and_a_table_cell_keeps_them():
    text = (
        "*{{c1::very}}* **{{c1::much}}**\n\n- one\n- {{c1::two}}\n\n"
        "| a | b |\n|---|---|\n| {{c1::x}} | y |"
    )

    front, back = question(text, 1), answer(text, 1)

    assert f"<p><em>{HIDDEN}</em> <strong>{HIDDEN}</strong></p>" in front
    assert f"<li>{HIDDEN}</li>" in front
    assert f"<td>{HIDDEN}</td>" in front
    assert '<em><span class="cloze">very</span></em>' in back
    assert '<li><span class="cloze">two</span></li>' in back
    assert '<td><span class="cloze">x</span></td>' in back


def test_emphasis_touching_a_deletion_reads_as_in_the_text_as_written_braces_included():
    text = "{{c1::_Homo_}} sapiens, {{c2::*(in vivo)*}}x and a*{{c3::b}}*c"
    sides = [answer(text, 1), answer(text, 2), answer(text, 3), question(text, 3)]

    # The braces beside the stars keep them from opening emphasis, as in "a*{b}*c".
    assert answer(text, 3) == (
        '<p><em>Homo</em> sapiens, <em>(in vivo)</em>x and a*<span class="cloze">b</span>*c</p>\n'
    )
    assert all(side.count("<em>") == 2 for side in sides)
    assert all("a*" in side for side in sides)


def test_a_deletion_inside_math_is_hidden_on_the_front_without_a_span():
    text = "$E = {{c1::mc^2}}$"

    front, back = question(text, 1), answer(text, 1)

    assert "<math" in front
    assert "<msup>" not in front
    assert '<span class="cloze"' not in front
    assert "<mi>[</mi><mo>.</mo><mo>.</mo><mo>.</mo><mi>]</mi>" in front
    assert "<msup><mi>c</mi><mn>2</mn></msup>" in back


def test_a_deletion_in_an_image_description_is_hidden_without_breaking_the_tag():
    text = '![{{c1::secret}}](a.png "{{c1::title}}") {{c2::b}}'

    front, back = question(text, 1), answer(text, 1)

    assert front == '<p><img src="a.png" alt="[...]" title="[...]"> b</p>\n'
    assert back == '<p><img src="a.png" alt="secret" title="title"> b</p>\n'


def test_html_and_script_inside_a_deletion_are_still_sanitised_away():
    text = (
        "{{c1::<script>alert(1)</script><img src=x onerror=alert(2)>"
        '<a href="javascript:alert(3)">ok</a>::<script>alert(4)</script>hint}}'
    )

    front, back = question(text, 1), answer(text, 1)

    assert front == '<p><span class="cloze">[hint]</span></p>\n'
    assert "alert" not in back
    assert "onerror" not in back
    assert '<span class="cloze"><img src="x"><a rel="noopener noreferrer nofollow">ok</a>' in back


def test_the_marks_the_renderer_uses_come_through_as_typed_and_its_stand_ins_not_at_all():
    typed = "\u2402\u2403\u2404\u2405\u2406\u2407"
    text = f"{typed} {{{{c1::{typed}}}}} ![{typed}](a.png)\ufdd0\ufdd5"

    front, back = question(text, 1), answer(text, 1)

    assert front == f'<p>{typed} {HIDDEN} <img src="a.png" alt="{typed}"></p>\n'
    assert back == (
        f'<p>{typed} <span class="cloze">{typed}</span> <img src="a.png" alt="{typed}"></p>\n'
    )


def test_a_deletion_across_paragraphs_or_cells_leaves_well_formed_html():
    for text in ["{{c1::one\n\ntwo}}", "| a | b |\n|---|---|\n| {{c1::x | y}} |", "`{{c1::a` b}}"]:
        back = answer(text, 1)

        assert well_formed(back), back
        assert '<span class="cloze">' in back


def test_the_well_formed_check_sees_crossed_tags():
    assert not well_formed("<p><span>a</p></span>")
    assert well_formed('<p><span class="cloze">a</span><br></p>')


def test_a_card_renders_as_its_markdown_with_the_answers_written_out():
    text = (
        "# Title {{c1::one}}\n\n"
        "| left | right |\n|:-----|------:|\n| {{c1::a}} | [link](https://example.com) |\n\n"
        "```python\nx = {{c1::1}}\n```\n\n$$\n\\frac{a}{b}\n$$\n\n> quote ~~{{c1::gone}}~~ "
        "{{c2::word}}"
    )

    front = question(text, 2).replace(HIDDEN, "[...]")
    back = answer(text, 2).replace('<span class="cloze">word</span>', "word")

    assert front == render_markdown(plain_question(text, 2))
    assert back == render_markdown(plain_text(text))


def test_a_side_past_the_renderers_limits_is_shown_as_written_with_its_deletion_hidden():
    text = "[" * 1_001 + " {{c1::secret}}"

    front = question(text, 1)

    assert front.startswith('<pre tabindex="0">[[[')
    assert HIDDEN in front
    assert "secret" not in front


def test_unchecked_text_is_read_leniently_and_every_number_found_has_a_card():
    texts = [
        "{{c1::a}} {{c2::b",
        "{{c1::a {{c2::b}} c}}",
        "{{c0::a}} {{c1::}} {{c2::b}}",
        "{{c1::a}} {{c" + "9" * 5_000 + "::b}}",
    ]
    for text in texts:
        for number in cloze_numbers(text):
            assert '<span class="cloze">' in question(text, number)
            assert '<span class="cloze">' in answer(text, number)

    assert cloze_numbers(texts[0]) == [1]
    assert "{{c2::b" in question(texts[0], 1)
    # The inner opener is text of the outer deletion, whose hint starts at its "::".
    assert answer(texts[1], 1) == '<p><span class="cloze">a {{c2</span> c}}</p>\n'
    assert cloze_numbers(texts[2]) == [1, 2]


def test_well_formed_cloze_text_is_accepted():
    check_cloze("{{c1::a}} {{c2::b::hint}} {{c1::$x$}}\n\n- {{c3::`y`}} }} {{C4::no}}", "Text")
    check_cloze(f"{{{{c{MAX_CLOZE_NUMBER}::a}}}}", "Text")
    check_cloze("{{c1::a}}" * MAX_DELETIONS, "Text")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "One\ntwo {{c1::three",
            "The text opens a deletion with “{{c1::” at line 2, column 5 and never closes it",
        ),
        ("a {{c0::b}}", "The text has “{{c0::” at line 1, column 3: deletions are numbered c1"),
        ("\n{{c501::b}}", "The text has “{{c501::” at line 2, column 1: deletions are numbered"),
        (
            "{{c" + "9" * 5_000 + "::b}}",
            "The text has “{{c999999999999999999999999999999999999…” at line 1, column 1",
        ),
        (
            "x {{c1::}}",
            "The text has a deletion that hides nothing, “{{c1::}}” at line 1, column 3",
        ),
        ("{{c1::  }}", "The text has a deletion that hides nothing, “{{c1::  }}” at line 1"),
        ("{{c1::::hint}}", "The text has a deletion that hides nothing, “{{c1::::hint}}”"),
        (
            "{{c1::a {{c2::b}}}}",
            "The text opens a deletion with “{{c2::” at line 1, column 9, inside the one opened "
            "at line 1, column 1",
        ),
        (
            "no deletion {{C1::here}}",
            "The text makes no card: add a deletion such as {{c1::answer}}",
        ),
        ("", "The text makes no card"),
        (
            "{{c1::a}}\n" * (MAX_DELETIONS + 1),
            "The text has more than 500 deletions (the next is at line 501, column 1)",
        ),
    ],
)
def test_malformed_cloze_text_is_refused_with_where_it_goes_wrong(text, message):
    with pytest.raises(ClozeError) as refused:
        check_cloze(text, "The text")

    assert str(refused.value).startswith(message)


# Texts of the length the renderer allows, crafted to be costly to read.
HOSTILE_TEXTS = [
    "{{c" + "9" * 9_997,
    "{{c" + "0" * 9_990 + "1::a}}",
    "{{c1::" * 1_666,
    "{{c1:" * 2_000,
    "}}" * 5_000,
    "{{c1::" + "::" * 4_996 + "}}",
    "{{c1::a}}" * 1_111,
    "{{c1::" * 833 + "}}" * 2_500,
    "".join(f"{{{{c{n}::a}}}}" for n in range(1, 501)) + "x" * 3_600,
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hostile_text_is_read_and_rendered_in_well_under_a_second(text):
    assert len(text) <= 10_000
    started = time.perf_counter()

    with contextlib.suppress(ClozeError):
        check_cloze(text, "The text")
    numbers = cloze_numbers(text)
    for number in numbers[:1] + numbers[-1:]:
        question(text, number)
        answer(text, number)

    assert time.perf_counter() - started < 1
