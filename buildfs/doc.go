// Package buildfs does everything the Dockerfile builder needs to touch the files of a
// build context and of an image root file system: .dockerignore (Ignore), COPY/ADD source
// expansion (Sources), the content digest a COPY's cache key is made of (Digest), COPY
// itself (CopyInto, WriteFile), ADD's archives and URLs (IsArchive, ExtractArchive,
// Fetch) and the reproducible rewrite of a layer tar (NormalizeTar).
//
// Safety model. A build context and an image are untrusted input:
//
//   - Context paths are resolved with github.com/cyphar/filepath-securejoin: every
//     symlink met on the way is followed inside the context (an absolute target /x means
//     CONTEXT/x) and `..` stops at the context root, so no source reaches a host file
//     outside the context.
//   - Paths in an image root file system are resolved by the kernel (openat2 with
//     RESOLVE_IN_ROOT, falling back to filepath-securejoin's pathrs-lite; the resolver is
//     internal/inroot, which `hutch cp` shares): symlinks in the image such as
//     /bin -> usr/bin are followed as if the root file system were /, and can never leave
//     it. The last component of a path that is written is never followed (O_NOFOLLOW /
//     AT_SYMLINK_NOFOLLOW): an existing symlink there is replaced, like Docker does, not
//     written through. Owners, modes and times are set on the new file's own descriptor.
//   - Archive entries with a `..` component and hard links with one are refused with an
//     error naming the entry; absolute names are taken relative to the destination
//     (Docker); every entry is created through a parent resolved inside the root, so a
//     symlink made by an earlier entry cannot lead a later one out. Device nodes are
//     skipped and listed (an unprivileged user cannot create them).
//
// images.CheckEntry (hutch import) is not reused: it refuses absolute names and symlinks
// pointing above the root, which ADD must accept (Docker makes the former relative and
// the latter are resolved inside the image anyway), and importing images/ would pull
// containers/image into this leaf package.
//
// Ownership: COPY makes files 0:0 unless --chown, ADD archives keep their owners. Both
// need the ids mapped in the build's user namespace; CopyOptions.IgnoreChownErrors
// leaves files whose owner is not mapped to the builder instead. Extended attributes are
// copied (after chown, which clears security.capability), except security.selinux.
//
// Reproducibility. NormalizeTar writes PAX tars with no user or group names, no access
// or change times, modification times truncated to whole seconds and clamped to the
// build's epoch, and drops the security.selinux extended attribute, whose value is the
// label of the host that made the layer, not part of the image's content.
package buildfs
