"""The hands-on course's machinery (docs/learn/): exercises cut from the reference code, grading one cell of the
conformance matrix, levels for the advanced track, and the checks that keep the course pages true.

- ``markers``: find the ``exercise: <id> begin/end`` regions and replace one by a stub;
- ``exercises``: the exercises (what each asks, which scenarios grade it) and the learner's workspace;
- ``grading``: ``make check``: run the selected scenarios, then say in words what is still missing;
- ``levels``: the advanced track's levels, from the results;
- ``normalize``: output made comparable (ages, uids, resourceVersions, ports);
- ``docrefs``: every ``file: function`` reference in docs/ names a real definition;
- ``docrun``: every command block of docs/learn/ runs and prints what the page says.
"""
