import type { ConversationListenerPlugin, ConversationSenderPlugin } from './conversation.js'

/**
 * A wire format other than ours, plugged into the component: given as `wire` to a listener it
 * also serves that format's senders (streams whose first byte is not our preamble's); given as
 * `wire` to a sender it speaks that format instead of ours. `@tk/transmission/python`'s
 * `ipfsToolkitPy()` is one. The core knows no format but its own.
 */
export interface WirePlugin extends ConversationSenderPlugin, ConversationListenerPlugin {}
