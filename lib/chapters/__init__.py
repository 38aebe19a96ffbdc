"""Experiments, one module per book chapter: its sizes per profile, run functions, summaries and
claims. Chapters import these; models and estimators never do (book/design.md, "Layers")."""
