"""What the controller checks about a site that the schema cannot: its name as a Service name."""

import pytest

from controller_examples.advanced.site import is_dns_1035_label, site_url


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("hello", True),
        ("web-1", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("1site", False),  # a valid StaticSite name, not a valid Service name
        ("a.b", False),
        ("web-", False),
        ("Hello", False),
        ("", False),
    ],
)
def test_a_service_name_is_a_dns_1035_label(name, valid):
    assert is_dns_1035_label(name) is valid


def test_the_url_is_the_services_cluster_dns_name():
    assert site_url("demo", "hello") == "http://hello.demo.svc.cluster.local"
