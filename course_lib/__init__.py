"""course_lib: the infrastructure around the course's notebooks.

Modules: ``setup`` (the first call in every notebook), ``data`` (checksummed loaders and
synthetic sets), ``checks`` (assert_close, finite differences, shapes), ``plotting``,
``results`` (record figures against targets), ``evaluation`` (the shared language-model loss),
``run`` (the runner), ``calibrate`` (this machine's speed against the reference, for time targets)
and ``lab`` (a learner's working copy). Importing the package does no work.
"""

__version__ = "0.1.0"
