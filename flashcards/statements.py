"""The few statements written by hand, each because a benchmark showed it pays.

Everything else goes through the ORM. These run on every card a learner studies (or every
request), where building the statement with the ORM cost more than running it. Measured per
call on SQLite, against the ORM's way of doing the same:
- the learner with their settings (every request): 0.09 ms against 0.95 for
  select_related("profile");
- the study queue's counts 1.4 ms saved; the answered card with its deck, memory and counts in
  one round trip 0.5 ms; the next card 0.1 to 1.5 ms;
- the memory written after an answer: 0.11 ms against 0.48 for filter(...).update(...); the
  answer's history row inserted: 0.40 ms saved against save(force_insert=True);
- `update_each`, for history rebuilds: bulk_update() took 90 s for 8,000 answers, this well
  under one.

Identifiers are quoted, parameters named, and each function returns one shape.
"""

from django.contrib.auth import get_user_model
from django.db import connection

from flashcards import scheduling
from flashcards.models import Card, Deck, Memory, NewCardCursor, Profile, Review

# Built once per model and database: building them costs more than running them.
_select_lists = {}
_readings = {}
_inserts = {}


def _quoted(model):
    return connection.ops.quote_name(model._meta.db_table)


def _tables():
    return {
        "cards": _quoted(Card),
        "decks": _quoted(Deck),
        "memories": _quoted(Memory),
        "reviews": _quoted(Review),
        "cursors": _quoted(NewCardCursor),
    }


def _adapt(moment):
    return connection.ops.adapt_datetimefield_value(moment)


def select_list(model, alias):
    """The columns of a model's fields, for a hand-written SELECT read back by instances()."""
    key = (connection.alias, model, alias)
    if key not in _select_lists:
        quote = connection.ops.quote_name
        columns = (f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)
        _select_lists[key] = ", ".join(columns)
    return _select_lists[key]


def instances(row, *models):
    """Model instances from a row of select_list() columns, one model after another; None for
    a model whose primary key is NULL (the missing side of a LEFT JOIN)."""
    found, start = [], 0
    for model in models:
        width, pk_index, conversions = _reading(model)
        values = list(row[start : start + width])
        start += width
        if values[pk_index] is None:
            found.append(None)
            continue
        # Only the fields whose database value differs from Python's (datetimes on SQLite,
        # JSON) are converted, as the ORM would have done.
        for index, column, converters in conversions:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        found.append(model.from_db(connection.alias, None, values))
    return found


def _reading(model):
    key = (connection.alias, model)
    if key not in _readings:
        fields = model._meta.concrete_fields
        conversions = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column)
            converters += field.get_db_converters(connection)
            if converters:
                conversions.append((index, column, converters))
        _readings[key] = (len(fields), fields.index(model._meta.pk), conversions)
    return _readings[key]


# The cards of a deck from the learner's new-card cursor on that they have not seen, in the
# order new cards are introduced. Everything before the cursor has been seen, so the scan
# starts near the first unseen card however many the learner has seen: `position >=` lets
# the index on (deck, position) start there.
_UNSEEN_CARDS = """
    FROM {cards} c
    WHERE c.deck_id = {deck}
    AND c.position >= {from_position} AND (c.position > {from_position} OR c.id >= {from_card})
    AND NOT EXISTS (
        SELECT 1 FROM {memories} seen
        WHERE seen.card_id = c.id AND seen.user_id = %(user)s AND seen.state <> %(new)s
    )"""

# The study queue's figures. New and due cards are counted only up to `new_limit` and
# `review_limit` (flashcards.queue.counting_limits), so that counting costs the same at any
# deck size and progress; new cards not at all once the day's new cards are done. The first
# unseen card and the cursor come too: a cursor found behind that card is moved up to it.
_QUEUE_FIGURES = """
    CASE WHEN {new_done} THEN 0
    ELSE (SELECT COUNT(*) FROM (SELECT 1 {unseen} ORDER BY c.position, c.id LIMIT %(new_limit)s) n)
    END,
    (SELECT COUNT(*) FROM {memories}
        WHERE user_id = %(user)s AND deck_id = {deck}
        AND state IN (%(learning)s, %(relearning)s) AND due < %(day_end)s),
    (SELECT COUNT(*) FROM (SELECT 1 FROM {memories}
        WHERE user_id = %(user)s AND deck_id = {deck} AND state = %(review)s
        AND due < %(day_end)s LIMIT %(review_limit)s) d),
    done.new,
    done.reviews,
    CASE WHEN {new_done} THEN NULL
    ELSE (SELECT c.position {unseen} ORDER BY c.position, c.id LIMIT 1) END,
    CASE WHEN {new_done} THEN NULL
    ELSE (SELECT c.id {unseen} ORDER BY c.position, c.id LIMIT 1) END,
    {cursor_position},
    {cursor_card}"""
# Today's answers to new cards and to review cards in the deck, counted once for the figures
# that use them: a range of the index on (user, deck, state_before, reviewed_at) each.
_DONE_TODAY = """(SELECT
        COUNT(CASE WHEN state_before = %(new)s THEN 1 END) AS new,
        COUNT(CASE WHEN state_before = %(review)s THEN 1 END) AS reviews
    FROM {reviews}
    WHERE user_id = %(user)s AND deck_id = {done_deck}
    AND state_before IN (%(new)s, %(review)s) AND reviewed_at >= %(day_start)s) done"""

QUEUE_FIGURES = (
    "unseen",
    "learning",
    "due",
    "done_new",
    "done_reviews",
    "first_unseen_position",
    "first_unseen_card",
    "cursor_position",
    "cursor_card",
)


# The deck by its id, and the learner's cursor read from its table...
_BY_DECK_ID = {
    "deck": "%(deck)s",
    "done_deck": "%(deck)s",
    "cursor_position": """(SELECT position FROM {cursors}
        WHERE user_id = %(user)s AND deck_id = %(deck)s)""",
    "cursor_card": """(SELECT card_id FROM {cursors}
        WHERE user_id = %(user)s AND deck_id = %(deck)s)""",
}
# ...or as the deck of the query's `d` (today's answers, in a table of their own, by the deck of
# the card asked for) and that learner's cursor row `cur` (LEFT JOINed).
_BY_JOINED_DECK = {
    "deck": "d.id",
    "done_deck": "(SELECT deck_id FROM {cards} WHERE id = %(card_id)s)",
    "cursor_position": "cur.position",
    "cursor_card": "cur.card_id",
}


def _where(tables, where):
    """The deck and the cursor's SQL, and where unseen cards start: the cursor, or the start."""
    where = {name: sql.format(**tables) for name, sql in where.items()}
    where["from_position"] = f"COALESCE({where['cursor_position']}, 0)"
    where["from_card"] = f"COALESCE({where['cursor_card']}, 0)"
    return where


def _queue_figures_sql(tables, where):
    """The figures' select list, and today's answers' table `done` for the FROM clause."""
    where = _where(tables, where)
    figures = _QUEUE_FIGURES.format(
        **tables,
        **where,
        unseen=_UNSEEN_CARDS.format(**tables, **where),
        new_done="done.new >= %(new_per_day)s",
    )
    return figures, _DONE_TODAY.format(**tables, done_deck=where["done_deck"])


def _queue_params(user_id, deck_id, day_start, day_end, limits):
    return {
        "user": user_id,
        "deck": deck_id,
        "new": scheduling.NEW,
        "learning": scheduling.LEARNING,
        "relearning": scheduling.RELEARNING,
        "review": scheduling.REVIEW,
        "day_start": _adapt(day_start),
        "day_end": _adapt(day_end),
        **limits,
    }


def queue_figures(user_id, deck_id, day_start, day_end, limits):
    """The study queue's figures (QUEUE_FIGURES, in that order) for one learner and deck, new
    and due cards counted up to `limits` (queue.counting_limits)."""
    params = _queue_params(user_id, deck_id, day_start, day_end, limits)
    figures, done_today = _queue_figures_sql(_tables(), _BY_DECK_ID)
    sql = f"SELECT {figures} FROM {done_today}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def answered_card(user_id, card_id, slug, day_start, day_end, limits):
    """The card with this id in the deck with this slug, its deck, the learner's memory of it
    (None if never seen) and the deck's queue figures, in one round trip:
    (card, deck, memory, figures), or None if there is no such card."""
    tables = _tables()
    figures, done_today = _queue_figures_sql(tables, _BY_JOINED_DECK)
    sql = f"""SELECT {select_list(Card, "c0")}, {select_list(Deck, "d")},
        {select_list(Memory, "m")}, {figures}
        FROM {tables["cards"]} c0 JOIN {tables["decks"]} d ON d.id = c0.deck_id
        LEFT JOIN {tables["memories"]} m ON m.card_id = c0.id AND m.user_id = %(user)s
        LEFT JOIN {tables["cursors"]} cur ON cur.deck_id = d.id AND cur.user_id = %(user)s
        CROSS JOIN {done_today}
        WHERE c0.id = %(card_id)s AND d.slug = %(slug)s"""
    params = _queue_params(user_id, None, day_start, day_end, limits)
    params.update(card_id=card_id, slug=slug)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    card, deck, memory = instances(row, Card, Deck, Memory)
    return card, deck, memory, row[-len(QUEUE_FIGURES) :]


def next_card(user_id, deck_id, *, now, learn_ahead_until, day_end, with_reviews, with_new):
    """The next card to show and the learner's memory of it (None if never seen), or None.

    Learning cards that are due come first, then reviews, then new cards; a learning card due
    before `learn_ahead_until` comes last. One statement: each kind of card is the first of its
    own index range, and the best kind wins.
    """
    tables = _tables()
    learning = """SELECT card_id, CASE WHEN due <= %(now)s THEN 1 ELSE 4 END AS priority, due, id
        FROM {memories} WHERE user_id = %(user)s AND deck_id = %(deck)s AND state = {state}
        AND due <= %(learn_ahead_until)s ORDER BY due, id LIMIT 1"""
    kinds = [
        learning.format(state="%(learning)s", **tables),
        learning.format(state="%(relearning)s", **tables),
    ]
    if with_reviews:
        kinds.append(
            """SELECT card_id, 2, due, id FROM {memories}
            WHERE user_id = %(user)s AND deck_id = %(deck)s AND state = %(review)s
            AND due < %(day_end)s ORDER BY due, id LIMIT 1""".format(**tables)
        )
    if with_new:
        kinds.append(
            "SELECT c.id, 3, %(now)s, c.id "
            + _UNSEEN_CARDS.format(**tables, **_where(tables, _BY_DECK_ID))
            + " ORDER BY c.position, c.id LIMIT 1"
        )
    candidates = " UNION ALL ".join(f"SELECT * FROM ({sql}) kind{n}" for n, sql in enumerate(kinds))
    sql = f"""SELECT {select_list(Card, "c0")}, {select_list(Memory, "m")}
        FROM ({candidates}) pick JOIN {tables["cards"]} c0 ON c0.id = pick.card_id
        LEFT JOIN {tables["memories"]} m ON m.card_id = c0.id AND m.user_id = %(user)s
        ORDER BY pick.priority, pick.due, pick.id LIMIT 1"""
    params = {
        "user": user_id,
        "deck": deck_id,
        "now": _adapt(now),
        "learn_ahead_until": _adapt(learn_ahead_until),
        "day_end": _adapt(day_end),
        "learning": scheduling.LEARNING,
        "relearning": scheduling.RELEARNING,
        "review": scheduling.REVIEW,
        "new": scheduling.NEW,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return instances(row, Card, Memory)


def update_each(rows, names):
    """Save these fields of each row (instances of one model), as one prepared UPDATE by id run
    for every row."""
    if not rows:
        return
    model = type(rows[0])
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {_quoted(model)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"
    params = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def user_with_profile(user_id):
    """The user with this id and their Profile (None before they have one), or None."""
    User = get_user_model()
    sql = f"""SELECT {select_list(User, "u")}, {select_list(Profile, "p")}
        FROM {_quoted(User)} u LEFT JOIN {_quoted(Profile)} p ON p.user_id = u.id
        WHERE u.id = %(user)s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": user_id})
        row = cursor.fetchone()
    return None if row is None else tuple(instances(row, User, Profile))


def update_memory(memory_id, reps, after):
    """Write the scheduler's memory `after` over the memory row `memory_id` if its review
    count is still `reps`; whether it was."""
    fields = [Memory._meta.get_field(name) for name in Memory.SCHEDULING_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %({field.name})s" for field in fields)
    sql = f"""UPDATE {_quoted(Memory)} SET {assignments}
        WHERE id = %(memory_id)s AND reps = %(expected_reps)s"""
    params = {
        field.name: field.get_db_prep_save(getattr(after, field.name), connection)
        for field in fields
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "memory_id": memory_id, "expected_reps": reps})
        return cursor.rowcount == 1


def insert(instance):
    """INSERT one new Memory or Review and set its primary key, as save(force_insert=True)
    does."""
    model = type(instance)
    key = (connection.alias, model)
    if key not in _inserts:
        quote = connection.ops.quote_name
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        columns = ", ".join(quote(field.column) for field in fields)
        values = ", ".join(f"%({field.attname})s" for field in fields)
        _inserts[key] = (
            fields,
            f"INSERT INTO {_quoted(model)} ({columns}) VALUES ({values}) "
            f"RETURNING {quote(model._meta.pk.column)}",
        )
    fields, sql = _inserts[key]
    params = {
        field.attname: field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in fields
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return instance
