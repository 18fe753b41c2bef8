"""Grading a class with nbgrader: lmlab's notebooks as assignments, and the teacher's view of the results.

- :mod:`lmlab.grading.assign` writes an nbgrader course folder (``nbgrader_config.py``,
  ``source/ASSIGNMENT/*.ipynb``) from lmlab notebooks: each exercise cell becomes an autograded answer cell
  holding the registry's solution between nbgrader's solution markers, followed by a locked, hidden test cell
  that calls :func:`lmlab.exercises.grade.assert_check`, the checks ``check(...)`` runs (``lmlab assign``).
- :mod:`lmlab.grading.results` reads nbgrader's gradebook and the autograded notebooks back: per exercise the
  share of students who solved it and the most common slips, as one table and one figure (``lmlab grades``).

nbgrader's own commands (``generate_assignment``, ``release_assignment``, ``collect``, ``autograde``) run
on the course folder unchanged; lmlab imports nbgrader only to read its gradebook.
"""
