"""Drives the ORAS Python SDK against a registry, as a test client.

Usage: oras_artifacts.py HOST WORKDIR USERNAME PASSWORD

Pushes an artifact with a custom artifactType (one monolithic, one chunked
layer), then a signature-like artifact attached to it through `subject`,
lists the referrers and pulls the artifact back. Prints one JSON object with
what it saw, for the calling test to check; exits non-zero on any failure.
"""

import json
import os
import sys

import oras.oci
import oras.provider

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class ArtifactRegistry(oras.provider.Registry):
    """The SDK's registry client, setting `artifactType` on pushed manifests."""

    artifact_type = None

    def upload_manifest(self, manifest, container):
        if self.artifact_type:
            manifest["artifactType"] = self.artifact_type
        return super().upload_manifest(manifest, container)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    host, workdir, username, password = sys.argv[1:5]
    os.chdir(workdir)  # the SDK wants pushed files under the working directory
    # The SDK's token backend re-sends a token that lacks a scope instead of
    # fetching a wider one (it only refreshes after a 403), so it cannot push
    # to a registry that answers 401 insufficient_scope as the token spec
    # says; Basic credentials on every request work everywhere.
    registry = ArtifactRegistry(hostname=host, insecure=True, auth_backend="basic")
    # (`login()` would also write the credentials to ~/.docker/config.json.)
    registry.auth.set_basic_auth(username, password)
    repo = f"{host}/proj/artifact"

    write("sbom.json", json.dumps({"spdxVersion": "SPDX-2.3", "name": "berth-test"}))
    write("notes.txt", "x" * 3_000_000)
    registry.artifact_type = "application/vnd.berth.test.sbom"
    pushed = registry.push(
        target=f"{repo}:v1",
        files=["sbom.json:application/spdx+json"],
        quiet=True,
    )
    subject_digest = pushed.headers["Docker-Content-Digest"]
    # A second layer pushed in chunks, to a second tag.
    pushed_chunked = registry.push(
        target=f"{repo}:chunked",
        files=["notes.txt:text/plain"],
        do_chunked=True,
        chunk_size=1_000_000,
        quiet=True,
    )

    raw = registry.do_request(
        f"http://{host}/v2/proj/artifact/manifests/{subject_digest}",
        "GET",
        headers={"Accept": OCI_MANIFEST},
    )
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest, size=len(raw.content))

    write("signature.txt", "signed by berth tests")
    registry.artifact_type = "application/vnd.berth.test.signature"
    signed = registry.push(
        target=f"{repo}:signature",
        files=["signature.txt:application/vnd.berth.test.signature.v1"],
        subject=subject,
        quiet=True,
    )

    referrers = registry.do_request(
        f"http://{host}/v2/proj/artifact/referrers/{subject_digest}",
        "GET",
        headers={"Accept": "application/vnd.oci.image.index.v1+json"},
    )
    filtered = registry.do_request(
        f"http://{host}/v2/proj/artifact/referrers/{subject_digest}"
        "?artifactType=application/vnd.berth.test.signature",
        "GET",
    )

    out = os.path.join(workdir, "pulled")
    files = registry.pull(target=f"{repo}:v1", outdir=out)
    chunked_files = registry.pull(target=f"{repo}:chunked", outdir=out)
    pulled = {}
    for path in files + chunked_files:
        with open(path, encoding="utf-8") as f:
            pulled[os.path.basename(path)] = len(f.read())

    print(
        json.dumps(
            {
                "subject": subject_digest,
                "chunked_status": pushed_chunked.status_code,
                "signature_status": signed.status_code,
                "oci_subject_header": signed.headers.get("OCI-Subject"),
                "signature": signed.headers["Docker-Content-Digest"],
                "referrers": referrers.json(),
                "filtered": filtered.json(),
                "filters_applied": filtered.headers.get("OCI-Filters-Applied"),
                "tags": registry.get_tags(f"{repo}"),
                "pulled": pulled,
            }
        )
    )


if __name__ == "__main__":
    main()
