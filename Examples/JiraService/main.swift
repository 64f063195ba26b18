// The Jira-style integration as a service: `swift run jira-example` with
// OCEAN__INTEGRATION__CONFIG__JIRA_HOST, ..._ATLASSIAN_USER_EMAIL and ..._ATLASSIAN_USER_TOKEN set.
import ExampleIntegrations
import OceanServer

await OceanService.run(JiraIntegration.make())
