"""The kubelet's pod-resources API (v1), for attributing GPUs to Kubernetes pods.

``api.proto`` beside this module is the published API. Its compiled form (the serialised
``FileDescriptorProto`` that ``grpc_tools.protoc --descriptor_set_out`` makes from it) is
kept below, and the message classes are built from it at run time in a private descriptor
pool: no generated code tied to one protobuf release, and no clash with other users of
the same ``v1`` names. A test recompiles ``api.proto`` and checks the two agree.
"""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

SERVICE = "v1.PodResourcesLister"
LIST_METHOD = f"/{SERVICE}/List"
ALLOCATABLE_METHOD = f"/{SERVICE}/GetAllocatableResources"

_DESCRIPTOR_B64 = (
    "CglhcGkucHJvdG8SAnYxIh0KG0FsbG9jYXRhYmxlUmVzb3VyY2VzUmVxdWVzdCKUAQocQWxsb2NhdGFibGVSZXNvdXJjZXNS"
    "ZXNwb25zZRIuCgdkZXZpY2VzGAEgAygLMhQudjEuQ29udGFpbmVyRGV2aWNlc1IHZGV2aWNlcxIXCgdjcHVfaWRzGAIgAygD"
    "UgZjcHVJZHMSKwoGbWVtb3J5GAMgAygLMhMudjEuQ29udGFpbmVyTWVtb3J5UgZtZW1vcnkiGQoXTGlzdFBvZFJlc291cmNl"
    "c1JlcXVlc3QiUQoYTGlzdFBvZFJlc291cmNlc1Jlc3BvbnNlEjUKDXBvZF9yZXNvdXJjZXMYASADKAsyEC52MS5Qb2RSZXNv"
    "dXJjZXNSDHBvZFJlc291cmNlcyJ4CgxQb2RSZXNvdXJjZXMSEgoEbmFtZRgBIAEoCVIEbmFtZRIcCgluYW1lc3BhY2UYAiAB"
    "KAlSCW5hbWVzcGFjZRI2Cgpjb250YWluZXJzGAMgAygLMhYudjEuQ29udGFpbmVyUmVzb3VyY2VzUgpjb250YWluZXJzIuAB"
    "ChJDb250YWluZXJSZXNvdXJjZXMSEgoEbmFtZRgBIAEoCVIEbmFtZRIuCgdkZXZpY2VzGAIgAygLMhQudjEuQ29udGFpbmVy"
    "RGV2aWNlc1IHZGV2aWNlcxIXCgdjcHVfaWRzGAMgAygDUgZjcHVJZHMSKwoGbWVtb3J5GAQgAygLMhMudjEuQ29udGFpbmVy"
    "TWVtb3J5UgZtZW1vcnkSQAoRZHluYW1pY19yZXNvdXJjZXMYBSADKAsyEy52MS5EeW5hbWljUmVzb3VyY2VSEGR5bmFtaWNS"
    "ZXNvdXJjZXMidAoPQ29udGFpbmVyTWVtb3J5Eh8KC21lbW9yeV90eXBlGAEgASgJUgptZW1vcnlUeXBlEhIKBHNpemUYAiAB"
    "KARSBHNpemUSLAoIdG9wb2xvZ3kYAyABKAsyEC52MS5Ub3BvbG9neUluZm9SCHRvcG9sb2d5IoQBChBDb250YWluZXJEZXZp"
    "Y2VzEiMKDXJlc291cmNlX25hbWUYASABKAlSDHJlc291cmNlTmFtZRIdCgpkZXZpY2VfaWRzGAIgAygJUglkZXZpY2VJZHMS"
    "LAoIdG9wb2xvZ3kYAyABKAsyEC52MS5Ub3BvbG9neUluZm9SCHRvcG9sb2d5IjIKDFRvcG9sb2d5SW5mbxIiCgVub2RlcxgB"
    "IAMoCzIMLnYxLk5VTUFOb2RlUgVub2RlcyIaCghOVU1BTm9kZRIOCgJJRBgBIAEoA1ICSUQimwEKD0R5bmFtaWNSZXNvdXJj"
    "ZRIdCgpjbGFpbV9uYW1lGAIgASgJUgljbGFpbU5hbWUSJwoPY2xhaW1fbmFtZXNwYWNlGAMgASgJUg5jbGFpbU5hbWVzcGFj"
    "ZRI6Cg9jbGFpbV9yZXNvdXJjZXMYBCADKAsyES52MS5DbGFpbVJlc291cmNlUg5jbGFpbVJlc291cmNlc0oECAEQAiKeAQoN"
    "Q2xhaW1SZXNvdXJjZRIuCgtjZGlfZGV2aWNlcxgBIAMoCzINLnYxLkNESURldmljZVIKY2RpRGV2aWNlcxIfCgtkcml2ZXJf"
    "bmFtZRgCIAEoCVIKZHJpdmVyTmFtZRIbCglwb29sX25hbWUYAyABKAlSCHBvb2xOYW1lEh8KC2RldmljZV9uYW1lGAQgASgJ"
    "UgpkZXZpY2VOYW1lIh8KCUNESURldmljZRISCgRuYW1lGAEgASgJUgRuYW1lIlgKFkdldFBvZFJlc291cmNlc1JlcXVlc3QS"
    "GQoIcG9kX25hbWUYASABKAlSB3BvZE5hbWUSIwoNcG9kX25hbWVzcGFjZRgCIAEoCVIMcG9kTmFtZXNwYWNlIlAKF0dldFBv"
    "ZFJlc291cmNlc1Jlc3BvbnNlEjUKDXBvZF9yZXNvdXJjZXMYASABKAsyEC52MS5Qb2RSZXNvdXJjZXNSDHBvZFJlc291cmNl"
    "czL7AQoSUG9kUmVzb3VyY2VzTGlzdGVyEkMKBExpc3QSGy52MS5MaXN0UG9kUmVzb3VyY2VzUmVxdWVzdBocLnYxLkxpc3RQ"
    "b2RSZXNvdXJjZXNSZXNwb25zZSIAEl4KF0dldEFsbG9jYXRhYmxlUmVzb3VyY2VzEh8udjEuQWxsb2NhdGFibGVSZXNvdXJj"
    "ZXNSZXF1ZXN0GiAudjEuQWxsb2NhdGFibGVSZXNvdXJjZXNSZXNwb25zZSIAEkAKA0dldBIaLnYxLkdldFBvZFJlc291cmNl"
    "c1JlcXVlc3QaGy52MS5HZXRQb2RSZXNvdXJjZXNSZXNwb25zZSIAYgZwcm90bzM="
)


def file_descriptor_bytes() -> bytes:
    """The serialised ``FileDescriptorProto`` of ``api.proto``."""
    return base64.b64decode(_DESCRIPTOR_B64)


@cache
def messages() -> dict[str, Any]:
    """The API's message classes by name (``ListPodResourcesResponse`` …); needs ``protobuf``."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto.FromString(file_descriptor_bytes())
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{proto.package}.{name}"))
        for name in (m.name for m in proto.message_type)
    }
