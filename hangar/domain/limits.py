"""Documented size limits of free text accepted over the API and in the config file.

Every string a caller can send is bounded, so no single request can make Hangar store, render
or scan megabytes of text; a value past its limit is refused with 422 naming the field. The
numbers are listed in ``docs/api.md`` and appear as ``maxLength``/``maxItems`` in the OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

MAX_DESCRIPTION = 4096
MAX_NAME = 256
MAX_TEXT = 4096
MAX_URL = 2048
MAX_ARG = 4096
MAX_ARGS = 256
MAX_ENV_NAME = 256
MAX_ENV_VALUE = 16_384
MAX_ENV = 256
MAX_LIST = 256

Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION)]
Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
Url = Annotated[str, msgspec.Meta(max_length=MAX_URL)]
Arg = Annotated[str, msgspec.Meta(max_length=MAX_ARG)]
Args = Annotated[list[Arg], msgspec.Meta(max_length=MAX_ARGS)]
EnvName = Annotated[str, msgspec.Meta(max_length=MAX_ENV_NAME)]
EnvValue = Annotated[str, msgspec.Meta(max_length=MAX_ENV_VALUE)]
Env = Annotated[dict[EnvName, EnvValue], msgspec.Meta(max_length=MAX_ENV)]
Names = Annotated[list[Name], msgspec.Meta(max_length=MAX_LIST)]
Texts = Annotated[list[Text], msgspec.Meta(max_length=MAX_LIST)]
JsonObject = Annotated[dict[str, Any], msgspec.Meta(max_length=MAX_LIST)]


# A provider definition's bounded fields, by name: enforced by ``provider_spec.check_lengths`` and
# documented in the OpenAPI from these same tables.
PROVIDER_TEXT_LIMITS = {"description": MAX_DESCRIPTION, "image": MAX_URL, "endpoint": MAX_URL, "network": MAX_NAME}
PROVIDER_LIST_LIMITS = {"command": MAX_ARGS, "volumes": MAX_LIST, "secret_env": MAX_LIST, "tools": MAX_LIST,
                        "env": MAX_ENV}
