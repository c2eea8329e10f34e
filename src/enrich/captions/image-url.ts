/**
 * Where an item's image URL lives. Ingest keeps one in the `image_url` column (item files'
 * `image_url` / `imageUrl`, icecat-chorus's 500×500 image); other catalogues put it among the extra
 * fields or attributes under names like `image`, `img_url` or `thumbnail`. `--image-field` names the
 * field; without it the column is used, else the first field or attribute whose name looks like an
 * image (image, img, photo, picture, thumbnail) and whose value is an http(s) URL.
 */
import type { StoredItem } from '../../store/index.ts';

/** The column name meaning "the image_url column" for --image-field. */
export const IMAGE_URL_COLUMN = 'image_url';

const IMAGE_NAME = /image|img|photo|picture|thumb/i;
const HTTP_URL = /^https?:\/\//i;

type ItemFields = Pick<StoredItem, 'imageUrl' | 'fields' | 'attributes'>;

function valueOf(item: ItemFields, name: string): string | null {
  const v = item.fields[name] ?? item.attributes[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** The item's image URL from `field` (the column for 'image_url'), or by the default detection. */
export function imageUrlOf(item: ItemFields, field?: string): string | null {
  if (field !== undefined) return field === IMAGE_URL_COLUMN ? item.imageUrl : valueOf(item, field);
  if (item.imageUrl) return item.imageUrl;
  for (const source of [item.fields, item.attributes]) {
    for (const [name, v] of Object.entries(source)) {
      if (IMAGE_NAME.test(name) && typeof v === 'string' && HTTP_URL.test(v.trim())) return v.trim();
    }
  }
  return null;
}
