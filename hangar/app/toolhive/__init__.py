"""The ToolHive vocabulary over Hangar's model: workloads are providers, plus the secrets vault,
client registrations, registry sources and installed skills (``docs/toolhive.md``)."""
