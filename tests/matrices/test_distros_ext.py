"""distros.yaml covers Ubuntu 24.10-26.04, Oracle Linux 7-9, CentOS Stream 8-10, Debian 9 and Amazon Linux
1/2/2023, glibc and libstdc++ alike, as their os-release files name them."""

from __future__ import annotations

import pytest

from envresolve.node.distros import infer_glibc, infer_libstdcxx

RELEASES = [
    ("ubuntu", "24.10", "2.40", "3.4.33"),
    ("ubuntu", "25.04", "2.41", "3.4.34"),
    ("ubuntu", "25.10", "2.42", "3.4.34"),
    ("ubuntu", "26.04", "2.43", "3.4.35"),
    ("ol", "7.9", "2.17", "3.4.19"),  # Oracle Linux: ID=ol, VERSION_ID carries the update
    ("ol", "8.10", "2.28", "3.4.25"),
    ("ol", "9.4", "2.34", "3.4.29"),
    ("centos", "8", "2.28", "3.4.25"),  # CentOS Stream: ID=centos, VERSION_ID the major
    ("centos", "9", "2.34", "3.4.29"),
    ("centos", "10", "2.39", "3.4.33"),
    ("debian", "9", "2.24", "3.4.22"),
    ("amzn", "2018.03", "2.17", "3.4.24"),  # Amazon Linux 1
    ("amzn", "2", "2.26", "3.4.24"),
    ("amzn", "2023", "2.34", "3.4.33"),
]


@pytest.mark.parametrize(("os_id", "version_id", "glibc", "glibcxx"), RELEASES)
def test_release_has_both_facts(os_id: str, version_id: str, glibc: str, glibcxx: str) -> None:
    g = infer_glibc(os_id, version_id)
    c = infer_libstdcxx(os_id, version_id)
    assert g is not None and g.row.glibc == glibc and not g.unsure
    assert c is not None and c.row.glibcxx == glibcxx
    assert "(read 20" in g.citation and "(read 20" in c.citation


def test_amazon_linux_2023_stays_unsure() -> None:
    c = infer_libstdcxx("amzn", "2023")
    assert c is not None and c.unsure and c.row.note and "within the release" in c.row.note
