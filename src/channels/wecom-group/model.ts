// Durable state of the WeCom customer-group channel: a county's app, each delivery's place
// in its owner's task, the tasks themselves and the media uploaded for a run.
import mongoose, { type InferSchemaType } from 'mongoose';
import { WECOM_CAP_POLICIES } from './limits.js';

// A county's WeCom app (`_id` = the county code): set once by an admin, the secret sealed.
const wecomAppSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    corpId: { type: String, required: true },
    secretSealed: { type: String, required: true },
    /** The receive cap WeCom applies to each group (ref §7; month = days-in-month per month). */
    capPolicy: { type: String, enum: WECOM_CAP_POLICIES, default: 'month' },
    updatedAt: { type: Date, required: true },
    updatedBy: { type: String, required: true },
  },
  { versionKey: false },
);

export const ITEM_STATES = [
  'queued', // waiting for its owner's task of the run to be created
  'tasked', // in a task; WeCom has not reported it sent
  'sent', // WeCom reported it sent (sentAt = WeCom's send_time)
  'failed', // fail_list, over the cap, or never sent when the task closed
  'cancelled', // the task was cancelled before the owner sent it (stop)
] as const;
export type ItemState = (typeof ITEM_STATES)[number];

// One delivery of one group in one run (`_id` = the engine's delivery id): queued into its
// owner's task, then the result WeCom reports for that group.
const wecomItemSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    occurrenceId: { type: String, required: true },
    campaignId: { type: String, required: true },
    countyCode: { type: String, required: true },
    ownerUserId: { type: String, required: true },
    chatId: { type: String, required: true },
    groupId: { type: String, required: true },
    groupName: { type: String, required: true },
    regionPath: { type: [String], required: true },
    officerName: { type: String, default: null },
    officerPhone: { type: String, default: null },
    /** The cap's period the send counts in (e.g. 2026-03, 2026-W10, 2026-03-05). */
    period: { type: String, required: true },
    state: { type: String, enum: ITEM_STATES, default: 'queued' },
    taskId: { type: String, default: null },
    sentAt: { type: Date, default: null },
    reason: { type: String, default: null },
    /** The officer's digest listed it. */
    told: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
wecomItemSchema.index({ state: 1, createdAt: 1 });
wecomItemSchema.index({ occurrenceId: 1 });
wecomItemSchema.index({ groupId: 1, period: 1 });

export const TASK_STATES = [
  'creating', // claimed; add_msg_template not answered yet
  'retry', // the creation failed before anything was made; tried again at nextAt
  'open', // created (msgid); waiting for the owner
  'sent', // the owner sent it; results recorded
  'cancelled', // cancel_groupmsg_send for a stop (sent groups kept)
  'failed', // could not be created (permanent), or the creation's outcome is unknown
  'closed', // the owner never sent it within the horizon
] as const;
export type TaskState = (typeof TASK_STATES)[number];

// One add_msg_template task: one owner's groups of one run (`_id` = occurrence|county|owner|part).
const wecomTaskSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    occurrenceId: { type: String, required: true },
    campaignId: { type: String, required: true },
    noticeId: { type: String, default: null },
    countyCode: { type: String, required: true },
    ownerUserId: { type: String, required: true },
    officerName: { type: String, default: null },
    officerPhone: { type: String, default: null },
    priority: { type: String, default: 'normal' },
    itemIds: { type: [String], default: [] },
    state: { type: String, enum: TASK_STATES, required: true },
    msgid: { type: String, default: null },
    attempts: { type: Number, default: 0 },
    nextAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
    /** When WeCom accepted the task (the officer's digest counts from here). */
    openedAt: { type: Date, default: null },
    sentAt: { type: Date, default: null },
    reminders: { type: [Date], default: [] },
    lastError: { type: String, default: null },
    nextPollAt: { type: Date, default: null },
    polls: { type: Number, default: 0 },
  },
  { versionKey: false },
);
wecomTaskSchema.index({ state: 1, nextPollAt: 1 });
wecomTaskSchema.index({ campaignId: 1 });

// What a run's groups receive (`_id` = occurrence|county): the first group's message.
const wecomMessageSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    text: { type: String, default: null },
    link: { type: mongoose.Schema.Types.Mixed, default: null },
    imageSha256: { type: String, default: null },
    imageMime: { type: String, default: null },
    /** media_id of the run's picture and when WeCom made it (valid 3 days, ref §6). */
    mediaId: { type: String, default: null },
    mediaAt: { type: Date, default: null },
  },
  { versionKey: false },
);

export type WecomAppDoc = InferSchemaType<typeof wecomAppSchema>;
export type WecomItemDoc = InferSchemaType<typeof wecomItemSchema>;
export type WecomTaskDoc = InferSchemaType<typeof wecomTaskSchema>;
export type WecomMessageDoc = InferSchemaType<typeof wecomMessageSchema>;
export const WecomAppModel = mongoose.model('WecomApp', wecomAppSchema);
export const WecomItemModel = mongoose.model('WecomGroupItem', wecomItemSchema);
export const WecomTaskModel = mongoose.model('WecomGroupTask', wecomTaskSchema);
export const WecomMessageModel = mongoose.model('WecomGroupMessage', wecomMessageSchema);
