"""The WAF's request logs keep credentials out: the Authorization and Cookie headers and the
whole query string are redacted, since a WebSocket upgrade may carry `?access_token=` (the
contract) or a single-use `?ticket=`."""

from hcl import Estate


def test_the_waf_logs_redact_headers_and_the_query_string(production: Estate):
    logging = production.resource("alb", "aws_wafv2_web_acl_logging_configuration", "this")
    redacted = logging["redacted_fields"]
    headers = {
        field["single_header"][0]["name"] for field in redacted if "single_header" in field
    }
    assert headers == {"authorization", "cookie"}
    assert any("query_string" in field for field in redacted), redacted
