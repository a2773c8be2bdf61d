// Officers' notification robots: where an officer (and their superior) is told of manual
// tasks. Credentials are sealed like a group's and never leave this module opened except
// to the channel adapter that posts the digest.
import { type ChannelInput, parseChannelInput } from '../channels/credentials.js';
import type { ChannelCredentials } from '../channels/credentials.js';
import type { SecretBox } from '../lib/cipher.js';
import type { Clock } from '../lib/clock.js';
import { InvalidInput } from '../lib/errors.js';
import { OFFICER_ROBOT_KINDS, type OfficerRobotDoc, type OfficerRobotKind, OfficerRobotModel } from './model.js';

/** Associated data: a sealed officer robot is only ever opened as one. */
const PURPOSE = 'officer-robot-credentials';

export interface OfficerRobotSetting {
  userId: string;
  kind: OfficerRobotKind;
  /** Whether credentials are stored; their value is never returned. */
  credentialsSet: boolean;
  superiorUserId: string | null;
  updatedAt: Date;
}

export interface OfficerRobotInput {
  channel: ChannelInput;
  superiorUserId?: string | null;
}

function toSetting(doc: OfficerRobotDoc): OfficerRobotSetting {
  return {
    userId: doc._id,
    kind: doc.kind as OfficerRobotKind,
    credentialsSet: Boolean(doc.credentialsSealed),
    superiorUserId: doc.superiorUserId ?? null,
    updatedAt: doc.updatedAt,
  };
}

export class OfficerRobotService {
  constructor(
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  async get(userId: string): Promise<OfficerRobotSetting | null> {
    const doc = await OfficerRobotModel.findById(userId).lean<OfficerRobotDoc>();
    return doc ? toSetting(doc) : null;
  }

  /** Stores the robot (a pasted webhook URL works, as for groups); empty credentials keep the stored ones. */
  async set(userId: string, input: OfficerRobotInput): Promise<OfficerRobotSetting> {
    if (!(OFFICER_ROBOT_KINDS as readonly string[]).includes(input.channel.kind)) {
      throw new InvalidInput('通知机器人只能是企业微信、钉钉或飞书群机器人', 'channel.kind');
    }
    const current = await OfficerRobotModel.findById(userId).lean<OfficerRobotDoc>();
    const given = [input.channel.webhookUrl, input.channel.key, input.channel.accessToken, input.channel.hookId].some(
      (value) => value?.trim(),
    );
    let sealed = current?.credentialsSealed ?? null;
    if (given || !current || current.kind !== input.channel.kind) {
      sealed = this.box.seal(JSON.stringify(parseChannelInput(input.channel)), PURPOSE);
    }
    const doc = {
      kind: input.channel.kind,
      credentialsSealed: sealed,
      superiorUserId: input.superiorUserId === undefined ? (current?.superiorUserId ?? null) : input.superiorUserId,
      updatedAt: this.clock.now(),
    };
    await OfficerRobotModel.replaceOne({ _id: userId }, doc, { upsert: true });
    return toSetting({ _id: userId, ...doc } as OfficerRobotDoc);
  }

  async clear(userId: string): Promise<void> {
    await OfficerRobotModel.deleteOne({ _id: userId });
  }

  /** The opened credentials, for the notifier's post only. */
  async credentials(userId: string): Promise<ChannelCredentials | null> {
    const doc = await OfficerRobotModel.findById(userId).lean<OfficerRobotDoc>();
    if (!doc?.credentialsSealed) return null;
    return JSON.parse(this.box.open(doc.credentialsSealed, PURPOSE)) as ChannelCredentials;
  }
}
