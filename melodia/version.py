"""melodia's version, at the bottom of the package so that every module can record it without importing the
package root (which sits at the top: it gathers the public names)."""

__version__ = "0.1.0"
