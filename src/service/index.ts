/** jetsaga's NATS service API: the server side (`startService`) and its client (`JetsagaClient`). */
export { startService, parseRequest, packageVersion, type ServiceHandle, type StartServiceOptions } from './service.js';
export { JetsagaClient, decodeReply, type ClientDeployRequest, type JetsagaClientOptions } from './client.js';
export { ServiceErrorCode, errorReplyOf } from './errors.js';
export { buildSummary, PROGRESS_PAGE, type BuildSummary, type ReplyOf } from './handlers.js';
export { SERVICE_NAME, SERVICE_QUEUE, ERROR_CODE_HEADER, MAX_REQUEST_BYTES, Endpoint, apiPrefix, endpointName, endpointSubject } from './subjects.js';
export * as schemas from './schemas.js';
export { HEARTBEAT_MS, FOLLOW_INBOX_PATTERN, FollowMessage } from './schemas-follow.js';
export { StreamErrorCode, DEFAULT_MAX_STREAMS } from './stream-session.js';
export type { FollowOptions, FollowStatus } from './follow-client.js';
