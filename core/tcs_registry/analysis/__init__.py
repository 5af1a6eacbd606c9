"""The built-in image analysis: registry layers to a package inventory, with no daemon and no root.

``stream`` opens and verifies a layer, ``walk`` reads the files that matter from its tar,
``parsers`` turn those files into packages, ``squash`` stacks the layers (whiteouts, symlinks),
``inventory`` puts it together per image with the layer cache, ``sbom`` writes the results.
"""

# Bump when what a layer record holds changes: cached records of other versions are ignored.
ANALYSER_VERSION = "7"  # 2: gems, Composer, .NET, conda, dpkg copyright files; 4: secrets, Rust; 5: dpkg
# packages unpacked but not configured, Go toolchains as SemVer, a jar's main manifest section, Ubuntu Pro;
# 6, 7: every package.json, a fat jar's own name from its manifest, Go binaries built before Go 1.18, vendors'
# Debian packages
NO_SECRETS = "-no-secrets"  # the suffix of records made without the secret search
