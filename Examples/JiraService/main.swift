import ExampleIntegrations
import Logging
import OceanPort
import OceanServer

// The Jira-style integration as a service: `swift run jira-example` with
// OCEAN__INTEGRATION__CONFIG__JIRA_HOST, ..._ATLASSIAN_USER_EMAIL and ..._ATLASSIAN_USER_TOKEN set.
let http = RetryingHTTPClient(maxConcurrentRequests: 4, requestsPerSecond: 10, burst: 10, logger: Logger(label: "jira.http"))
await OceanService.run(JiraIntegration.make(http: http))
