import OceanIntegrations
import OceanServer

// `ocean`: the service with the integrations shipped with swift-ocean, chosen by OCEAN__INTEGRATION__TYPE.
await OceanService.run(.byType(BuiltInIntegrations.types, make: BuiltInIntegrations.make))
