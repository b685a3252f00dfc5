# %% [markdown]
# # References
#
# The works this book cites. Where the paper cites the same work, the entry
# follows the authors' own bibliography, with one correction: their entry for
# Einstein's 1916 article gives pages 769–880, and the article runs 769–822.
# The others follow each work's own citation metadata. The paper itself: {cite}`chiang+:2023`, and its first
# arXiv version, which has the examples of chapter 7: {cite}`chiang+:2021`.
# The notation throughout the book — $A \ndot{\ax} B$,
# $\nfun{\seq}{softmax} X$, $\partial f / \partial X^*$ — is theirs;
# Appendix C shows how to write it.
#
# ```{bibliography}
# ```
#
# Every citation in the book's pages resolves to an entry of the book's
# `references.bib`; the cell below checks it.

# %% tags=["hide-input"]
import re
from pathlib import Path

import ntlib as nt

# the repository beside ntlib, or the copy an installed package carries
ROOT = Path(nt.__file__).resolve().parent.parent
if not (ROOT / "references.bib").is_file():
    ROOT = Path(nt.__file__).resolve().parent / "_book"
bib = (ROOT / "references.bib").read_text()
entries = set(re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,", bib, re.M))
pages = sorted((ROOT / "chapters").glob("*.py"))
for page in pages:
    keys = []
    for m in re.finditer(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
        keys += [k.strip() for k in m.group(1).split(",")]
    missing = sorted(set(keys) - entries)
    assert not missing, f"{page.name} cites {missing}, not in references.bib"
print("every citation in the book's pages is an entry of references.bib")
