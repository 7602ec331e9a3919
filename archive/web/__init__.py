"""Templates of the pages for people (article, search results, timeline), as a Datasette plugin.

Datasette finds a plugin's templates in a ``templates`` folder of the plugin's *package*; the
govarchive plugin is a module (archive.datasette_plugin), so its templates live in this package,
registered by that module beside it. The hooks that feed the templates are in the module.
"""
