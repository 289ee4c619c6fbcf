"""The named corpus recipes (folk, chorales, jsb, folder) and the JSB file, shipped inside the
package as `melodia.corpora` (see pyproject.toml's package-dir) so that an installed melodia
builds them too."""
