// Which messages take entity images on a step, under which request property, and which image types each
// message and stage allow: one set of rules for the registration file's validator, the plan, the
// registration form (a webview, which may import only core) and the keyboard flows.
//
// Followed: Microsoft Learn, "Register a plug-in" (messages that support entity images; availability of
// images) and "Write plug-ins for CreateMultiple and UpdateMultiple" (a bulk message's images come one set per
// record of Targets). Dataverse checks `messagepropertyname` per message: an UpdateMultiple image under
// `Target` is refused with "Message property name 'Target' is not valid on message UpdateMultiple", and
// CreateMultiple takes `Ids` (SparkleXrm issue 486 and pull request 489, whose spkl writes `Id` for Create);
// the Plug-in Registration Tool's open source added CreateMultiple and UpdateMultiple images
// (Biznamics/PluginRegistration pull request 142). UpsertMultiple and DeleteMultiple are in no list of image
// messages, Learn's or the registration tools'.

export type StepImageType = 'pre' | 'post' | 'both';
/** The stages a step can be registered in (the registration file's names). */
export type StepImageStage = 'pre-validation' | 'pre-operation' | 'post-operation';

/** The request property an image is taken from, by message: what a new image's `messagepropertyname` is. */
const IMAGE_PROPERTY: Readonly<Record<string, string>> = {
  Create: 'Id',
  CreateMultiple: 'Ids',
  Update: 'Target',
  UpdateMultiple: 'Targets',
  Delete: 'Target',
  SetState: 'EntityMoniker',
  SetStateDynamicEntity: 'EntityMoniker',
};

/**
 * Other values Dataverse holds for an image of the message, left as they are rather than rewritten: the
 * Learn table names `Target` for Create, which earlier versions of this tool wrote.
 */
const ALSO_ACCEPTED: Readonly<Record<string, readonly string[]>> = { Create: ['Target'] };

/** The messages whose steps take images, in the order they are listed to people. */
export const IMAGE_MESSAGES: readonly string[] = Object.keys(IMAGE_PROPERTY);

/** The `messagepropertyname` of a new image on a step of this message; undefined when the message takes none. */
export function imagePropertyOf(message: string): string | undefined {
  return IMAGE_PROPERTY[message];
}

/** Whether a step's images come one set per record of Targets (PreEntityImagesCollection / PostEntityImagesCollection). */
export function imagesPerRecord(message: string): boolean {
  return IMAGE_PROPERTY[message] === 'Ids' || IMAGE_PROPERTY[message] === 'Targets';
}

/** Whether a registered image's `messagepropertyname` is one Dataverse holds for this message. */
export function isImagePropertyOf(message: string, property: string): boolean {
  return IMAGE_PROPERTY[message] === property || (ALSO_ACCEPTED[message] ?? []).includes(property);
}

/** Why a step on this message takes no images; undefined when it does. */
export function noImagesReason(message: string): string | undefined {
  if (message in IMAGE_PROPERTY) return undefined;
  const list = `images are available only on ${IMAGE_MESSAGES.join(', ')}`;
  if (message === 'UpsertMultiple')
    return `${list}: register them on the Create and Update (or CreateMultiple and UpdateMultiple) steps an upsert runs`;
  return `${list}, not ${message}`;
}

/** Why a message takes no pre-image: the record does not exist before a create. */
function noPreImageReason(message: string): string | undefined {
  if (message === 'Create') return 'a Create has no pre-image: the record does not exist yet';
  if (message === 'CreateMultiple') return 'a CreateMultiple has no pre-images: the records do not exist yet';
  return undefined;
}

/** Why a post-image cannot be had on this message and stage. */
function noPostImageReason(message: string, stage: StepImageStage | undefined): string | undefined {
  if (message === 'Delete') return 'a Delete has no post-image: the record is gone';
  if (stage !== undefined && stage !== 'post-operation') return 'post-images exist only in the post-operation stage';
  return undefined;
}

/** Every reason an image of this type cannot be registered on a step of this message and stage (none: it can). */
export function imageTypeReasons(
  message: string,
  stage: StepImageStage | undefined,
  type: StepImageType,
): readonly string[] {
  const pre = type === 'post' ? undefined : noPreImageReason(message);
  const post = type === 'pre' ? undefined : noPostImageReason(message, stage);
  return [pre, post].filter((reason): reason is string => reason !== undefined);
}
