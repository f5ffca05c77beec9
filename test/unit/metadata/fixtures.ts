import { readFileSync } from 'node:fs';
import { parseCsdl } from '../../../src/metadata/csdl';
import type { MetadataModel } from '../../../src/metadata/model';

const SHARED = new URL('../../../../shared/fixtures/', import.meta.url);

export function readSharedFixture(path: string): string {
  return readFileSync(new URL(path, SHARED), 'utf8');
}

export function readSharedJson(path: string): unknown {
  return JSON.parse(readSharedFixture(path)) as unknown;
}

let realModel: MetadataModel | undefined;

/** The real 8.5 MB `$metadata`, parsed once for all the test files that only read it. */
export function realDataverseModel(): MetadataModel {
  realModel ??= parseCsdl(readSharedFixture('metadata/dataverse-v9.edmx.xml')).model;
  return realModel;
}

/**
 * A small document with what the real one lacks: facets, enum values left implicit, a derived
 * complex type, a polymorphic lookup, annotations around and inside elements, and an unknown
 * element holding a `Property` that must not be read as one.
 */
export const SAMPLE_CSDL = `<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml">
    <edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys"/>
  </edmx:Reference>
  <edmx:DataServices>
    <Schema Namespace="Contoso.Sales" Alias="cs" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="base" Abstract="true"/>
      <EntityType Name="party" BaseType="cs.base" Abstract="true">
        <Key><PropertyRef Name="partyid"/></Key>
        <Property Name="partyid" Type="Edm.Guid" Nullable="false"/>
      </EntityType>
      <EntityType Name="customer" BaseType="cs.party" OpenType="true">
        <Annotation Term="Org.OData.Core.V1.Description" String="A customer &amp; its orders"/>
        <Property Name="name" Type="Edm.String" MaxLength="100">
          <Annotation Term="Org.OData.Core.V1.Description" String="The name"/>
        </Property>
        <Property Name="notes" Type="Edm.String" MaxLength="max"/>
        <Property Name="creditlimit" Type="Edm.Decimal" Precision="19" Scale="4"/>
        <Property Name="revenue" Type="Edm.Decimal" Scale="Variable"/>
        <Property Name="_parentid_value" Type="Edm.Guid"/>
        <Vendor.Extension><Property Name="notaproperty" Type="Edm.String"/></Vendor.Extension>
        <NavigationProperty Name="parentid" Type="cs.customer" Partner="children">
          <ReferentialConstraint Property="_parentid_value" ReferencedProperty="partyid"/>
        </NavigationProperty>
        <NavigationProperty Name="children" Type="Collection(cs.customer)" Partner="parentid"/>
        <NavigationProperty Name="orders" Type="Collection(Contoso.Sales.order)" Nullable="false"/>
      </EntityType>
      <EntityType Name="order">
        <Key><PropertyRef Name="orderid"/></Key>
        <Property Name="orderid" Type="Edm.Guid"/>
        <Property Name="status" Type="cs.OrderStatus"/>
        <Property Name="_buyerid_value" Type="Edm.Guid"/>
        <NavigationProperty Name="buyerid_customer" Type="cs.customer">
          <ReferentialConstraint Property="_buyerid_value" ReferencedProperty="partyid"/>
        </NavigationProperty>
        <NavigationProperty Name="buyerid_supplier" Type="cs.supplier">
          <ReferentialConstraint Property="_buyerid_value" ReferencedProperty="partyid"/>
        </NavigationProperty>
      </EntityType>
      <EntityType Name="supplier" BaseType="cs.party"/>
      <ComplexType Name="Address">
        <Property Name="city" Type="Edm.String"/>
      </ComplexType>
      <ComplexType Name="ShippingAddress" BaseType="cs.Address">
        <Property Name="dock" Type="Edm.Int32" Nullable="false"/>
        <NavigationProperty Name="carrier" Type="cs.supplier"/>
      </ComplexType>
      <EnumType Name="OrderStatus">
        <Member Name="Draft"/>
        <Member Name="Placed"/>
        <Member Name="Shipped" Value="10"/>
        <Member Name="Closed"/>
      </EnumType>
      <EnumType Name="Rights" IsFlags="true">
        <Member Name="Read" Value="1"/>
        <Member Name="Write" Value="2"/>
      </EnumType>
      <Action Name="Ship" IsBound="true">
        <Parameter Name="entity" Type="cs.order" Nullable="false"/>
        <Parameter Name="Address" Type="cs.ShippingAddress"/>
        <ReturnType Type="cs.order" Nullable="false"/>
      </Action>
      <Action Name="Ship" IsBound="true">
        <Parameter Name="entity" Type="Collection(cs.order)" Nullable="false"/>
      </Action>
      <Function Name="TopCustomers" IsComposable="true">
        <Parameter Name="Count" Type="Edm.Int32" Nullable="false"/>
        <ReturnType Type="Collection(cs.customer)"/>
      </Function>
      <Term Name="hint" Type="Edm.String"><Annotation Term="Core.Description" String="ignored"/></Term>
      <EntityContainer Name="System">
        <EntitySet Name="customers" EntityType="Contoso.Sales.customer">
          <NavigationPropertyBinding Path="orders" Target="orders"/>
        </EntitySet>
        <EntitySet Name="orders" EntityType="Contoso.Sales.order"/>
        <EntitySet Name="suppliers" EntityType="Contoso.Sales.supplier"/>
        <ActionImport Name="Ship" Action="Contoso.Sales.Ship"/>
        <FunctionImport Name="TopCustomers" Function="Contoso.Sales.TopCustomers"/>
      </EntityContainer>
      <Annotations Target="Contoso.Sales.customer">
        <Annotation Term="Keys.AlternateKeys"><Collection><Record><PropertyValue Property="Key"/></Record></Collection></Annotation>
      </Annotations>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`;
