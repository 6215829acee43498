export { compileGlob, globEscape, hasGlobSyntax, literalPrefix } from './glob';
export { DEFAULT_TAG_PREFIX, LEASE_PREFIX, RESERVED_PREFIX, hashTagOf, LeaseAffixes, isReservedKey, leaseAffixesOf, leaseKeyOf, tagSetKey } from './key-names';
export { L1InvalidationMessage, L1MessageContext, L1Payload, L1_MESSAGE_VERSION, buildL1Messages } from './l1-message';
export { L1HeartbeatMessageV2, L1InvalidateMessageV2, L1MessageV2, L1_MESSAGE_VERSION_2, ParsedL1Message, buildL1Heartbeat, parseL1Message, sequenced } from './l1-message-v2';
export { ACQUIRE_SCRIPT, FILL_SCRIPT, LEASE_MARKER_PREFIX, RELEASE_SCRIPT, UNLINK_WITH_LEASES, isLeaseMarker, leaseMarkerOf } from './lease-scripts';
export {
  RELEASE_TAG_PAGE,
  TAG_EPOCH_PREFIX,
  TAG_HOLDING_PREFIX,
  TAKE_TAG_PAGE,
  TagScript,
  TagTakeKeys,
  TakenPage,
  parseTakenPage,
  releasePageArgs,
  tagTakeKeys,
  takePageArgs,
} from './tag-take';
