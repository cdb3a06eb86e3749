// Moved to rigs/ (shared with the bench and the drills). This re-export only lets branches written
// against the old path merge and build; import from rigs/ instead, and delete this file once nothing
// imports it.
export * from '../../rigs/channel-peer';
