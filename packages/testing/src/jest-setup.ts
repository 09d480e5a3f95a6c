import 'reflect-metadata';
import { configureProperties } from './property-config';

configureProperties();
