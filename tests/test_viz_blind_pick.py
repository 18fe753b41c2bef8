"""The blind pick (``lmlab.viz.blind_pick``): a seeded shuffle a teacher can replay, every system once per
row, a reveal that names the right system, tallies that count, one clear line for bad input."""

from __future__ import annotations

import pytest

from lmlab.errors import UsageError
from lmlab.viz.blind_pick import blind_pick, system_name

SOURCES = ["白日依山盡", "玉窗朝日映", "秋露凝高掌", "江山尋故國", "風威侵病骨", "春眠不覺曉"]
# each system's answer is tagged with its own name, so a test can tell who wrote what from the text alone
ANSWERS = {name: [f"{name}:{s}" for s in SOURCES] for name in ("lookup_table", "nearest_pair", "transformer")}


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("LMLAB_LANG", "en")  # the needles below are the English messages


def test_same_seed_same_letters_and_another_seed_reshuffles():
    orders = {seed: blind_pick(SOURCES, ANSWERS, seed=seed).order for seed in range(6)}
    assert blind_pick(SOURCES, ANSWERS, seed=3).order == orders[3]
    assert len({str(o) for o in orders.values()}) > 1  # six rows of 3! orders: seeds do differ
    # the rows are not all in the given order (a shuffle happened)
    assert any(row != [(name,) for name in ANSWERS] for row in orders[0] + orders[1])


def test_every_system_once_per_row_and_the_row_hides_names():
    pick = blind_pick(SOURCES, ANSWERS, seed=1)
    for i, source in enumerate(SOURCES):
        assert sorted(name for group in pick.order[i] for name in group) == sorted(ANSWERS)
        shown = pick.row(i)
        assert [letter for letter, _ in shown] == ["A", "B", "C"]
        assert sorted(a.split(":")[0] for _, a in shown) == sorted(ANSWERS)
        assert all(a.endswith(source) for _, a in shown)  # each answer stays on its own 上联


def test_reveal_maps_each_letter_to_the_system_that_wrote_it():
    pick = blind_pick(SOURCES, ANSWERS, seed=7)
    for i in range(len(SOURCES)):
        who = pick.reveal(i)
        for letter, answer in pick.row(i):
            (name,) = who[letter]  # every answer differs here: one system per letter
            assert answer == ANSWERS[name][i]


def test_tallies_count_votes_per_system():
    pick = blind_pick(SOURCES, ANSWERS, seed=2)
    expected = dict.fromkeys(ANSWERS, 0)
    for i in range(len(SOURCES)):
        who = pick.reveal(i)
        pick.vote(i, "A", 3)
        pick.vote(i, "c")  # lower case is fine
        expected[who["A"][0]] += 3
        expected[who["C"][0]] += 1
    pick.vote(0, "A", -1)  # a miscount corrected
    expected[pick.reveal(0)["A"][0]] -= 1
    assert pick.tallies() == expected
    assert sum(pick.tallies().values()) == 4 * len(SOURCES) - 1
    pick.reset()
    assert pick.tallies() == dict.fromkeys(ANSWERS, 0)


def test_text_and_html_hide_the_systems_until_the_reveal():
    pick = blind_pick(SOURCES, ANSWERS, seed=0)
    pick.vote(0, "B", 5)
    hidden, shown = pick.html(), pick.html(reveal=True)
    (key,) = pick.reveal(0)["B"]
    name = system_name(key)
    assert name not in hidden.replace(ANSWERS[key][0], "")
    assert name in shown and "5 votes" in shown and "<table" in shown
    assert "lookup table" not in pick.text() and "lookup table" in pick.text(reveal=True)
    assert f"{name} 5" in pick.text(reveal=True)


def test_widget_counts_clicks_and_reveals():
    widgets = pytest.importorskip("ipywidgets")
    pick = blind_pick(SOURCES[:2], {k: v[:2] for k, v in ANSWERS.items()}, seed=0)
    box = pick.widget()
    first_row = box.children[1]
    button, label = first_row.children[1], first_row.children[2]
    assert isinstance(button, widgets.Button) and button.description.startswith("A")
    button.click()
    button.click()
    assert label.value == "2" and pick.votes[0][0] == 2
    assert pick.tallies()[pick.reveal(0)["A"][0]] == 2


def test_the_same_line_from_two_systems_is_one_letter_and_its_votes_count_for_both():
    same = {"lookup_table": ["黃河入海流", "金戶夜風含"], "nearest_pair": ["黃河入海流", "銀河曉月沉"],
            "transformer": ["秋風入白雲", "金戶夜風含"]}
    pick = blind_pick(["白日依山盡", "玉窗朝日映"], same, seed=4)
    assert [len(pick.row(i)) for i in range(2)] == [2, 2]
    assert [a for _, a in pick.row(0)].count("黃河入海流") == 1
    letter = next(lt for lt, a in pick.row(0) if a == "黃河入海流")
    assert sorted(pick.reveal(0)[letter]) == ["lookup_table", "nearest_pair"]
    pick.vote(0, letter, 2)
    assert pick.tallies() == {"lookup_table": 2, "nearest_pair": 2, "transformer": 0}
    first_row = pick.text(reveal=True).splitlines()[1]
    assert " + " in first_row and "lookup table" in first_row and "retrieval (nearest" in first_row
    with pytest.raises(UsageError, match="answer 'C' does not exist in row 0; give one of A, B"):
        pick.vote(0, "C")


@pytest.mark.parametrize(("sources", "answers", "needle"), [
    ([], ANSWERS, "no 上联"),
    (SOURCES, {"transformer": ANSWERS["transformer"]}, "at least two systems"),
    (SOURCES, {**ANSWERS, "copy_source": SOURCES[:-1]}, "'copy_source' has 5 answers for 6 sources"),
    (SOURCES[:1], {"a": "白日", "b": ["x"]}, "system 'a' gives one string, not a list"),
])
def test_bad_input_gives_one_clear_line(sources, answers, needle):
    with pytest.raises(UsageError) as err:
        blind_pick(sources, answers)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_missing_row_or_letter_names_the_value():
    pick = blind_pick(SOURCES, ANSWERS)
    with pytest.raises(UsageError, match="answer 'D' does not exist in row 0; give one of A, B, C"):
        pick.vote(0, "D")
    with pytest.raises(UsageError, match="answer 'AB' does not exist"):
        pick.vote(0, "AB")
    with pytest.raises(UsageError, match="row 6 does not exist"):
        pick.reveal(6)
