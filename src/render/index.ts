// What other rooms use from render: pure functions from plain data to cards.
export type { CardNotice, Personalisation, WantedDetails } from './content.js';
export {
  CardTooLarge,
  type TextCard,
  type TextCardFormat,
  type TextCardInput,
  type TextCardLimits,
  renderTextCard,
} from './text/render-text-card.js';
export {
  type ImageCard,
  type ImageCardInput,
  type ImageCardOptions,
  ImageCardRenderer,
  renderImageCard,
} from './image/render-image-card.js';
export { ImageTooLarge, type ImageFormat } from './image/encode.js';
export { FONT_FILE, FONT_FAMILY, fontCovers } from './image/font.js';
