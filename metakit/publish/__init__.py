"""The publish layer: parameter files, the build of HTML reports and the index, provenance.

Used by the command line (``python -m metakit``); notebooks never import it.
"""
