// Package openclaw holds the clawtrail plugin for OpenClaw: a plain
// JavaScript ES module (index.js, openclaw.plugin.json, package.json) that
// OpenClaw loads in-process. There is no Go code here; the package exists
// for its end-to-end test, which drives a real OpenClaw against a real
// clawtrail server and a mock model. See docs/integrations/openclaw.md.
package openclaw
