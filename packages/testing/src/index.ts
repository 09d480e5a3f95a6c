export { configureProperties, DEFAULT_PROPERTY_SEED } from './property-config';
