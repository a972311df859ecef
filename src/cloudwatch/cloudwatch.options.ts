/** Options of `CloudWatchModule.forRoot`. */
export interface CloudWatchModuleOptions {
  /**
   * Mount the alarm manager, `GET /v1/cloudwatch/alarms/plan` and `POST …/apply` (it
   * creates, changes and deletes alarms in the account); default false.
   */
  alarmApply?: boolean;
  /** the topic the managed alarms notify (alarm and OK actions); the alarm manager needs it */
  snsTopicArn?: string;
}

export const CLOUDWATCH_OPTIONS = Symbol('CLOUDWATCH_OPTIONS');
