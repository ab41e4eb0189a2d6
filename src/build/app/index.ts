/**
 * What the build saga learns from an app's staged source: its app.toml, stack, Procfile, web
 * process and build commands, the runner of those commands, and the deploy-time config checks.
 */
export { APP_CONFIG_INVALID, AppConfigError, formatProblem, type ConfigProblem } from './app-config-error.js';
export { APP_CONFIG_DEFAULTS, STACK_NAMES, type AppConfig, type StackName } from './app-config-schema.js';
export { APP_CONFIG_FILE, DEFAULT_APP_CONFIG, loadAppConfig, parseAppConfig } from './app-config.js';
export { OnbuildError, OnbuildErrorCode, type OnbuildFailure } from './onbuild-error.js';
export { planOnbuild, type OnbuildPlan } from './onbuild-plan.js';
export { ONBUILD_HOME, runOnbuild, type OnbuildOutputLine, type OnbuildResult, type RunOnbuildOptions } from './onbuild.js';
export { checkConfig, nameMismatch, prepareConfig, type PrepareConfigOptions, type PreparedConfig } from './prepare-config.js';
export { findProcess, parseProcfile, PROCFILE, readProcfile, type Procfile, type ProcfileEntry } from './procfile.js';
export { APP_DIR_MISSING } from './read-app-file.js';
export { PYTHON_PACKAGES_DIR, STATIC_SERVER_ARGV } from './stack-defaults.js';
export { detectStack, STACK_MARKERS, type DetectStackOptions, type Stack } from './stack.js';
export { decideWebProcess, toArgv, type DecideWebProcessInput, type WebProcess, type WebProcessSource } from './web-process.js';
