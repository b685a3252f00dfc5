"""One citation style in both editions: author and year, in the text and in the list.

The chapters cite with ``{cite}`` and ``bibtex_reference_style: author_year``
(the text reads "Chiang et al., 2023"), but pybtex's ``alpha`` style labelled
the bibliography's entries ``[CRB23]``, which the text never shows.  This
extension registers a pybtex style, ``author_year`` (``bibtex_default_style``
in ``_config.yml``): the formatting of ``alpha`` (entries sorted by author,
year, title) with labels that read as the citations do ("Chiang et al., 2023";
one author: "Rogozhnikov, 2022"; two: "Hoyer and Hamman, 2017"; a letter
after the year where two entries would share a label).  HTML and PDF use it
alike.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.labels import BaseLabelStyle


def _last(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def label(entry) -> str:
    """"Chiang et al., 2023" for an entry: authors (or editors), then year."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last(p) for p in people]
    if not names:
        who = Text.from_latex(entry.fields.get("organization", entry.key)).render_as("text")
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    year = entry.fields.get("year", "n.d.")
    return f"{who}, {year}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [label(e) for e in sorted_entries]
        count: dict = {}
        for lab in labels:
            count[lab] = count.get(lab, 0) + 1
        seen: dict = {}
        for lab in labels:
            if count[lab] > 1:
                seen[lab] = seen.get(lab, 0) + 1
                yield lab + "abcdefghijklmnopqrstuvwxyz"[seen[lab] - 1]
            else:
                yield lab


class AuthorYearStyle(AlphaStyle):
    default_label_style = "author_year"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
